import { randomUUID } from 'node:crypto';
import { accessSync, closeSync, constants, createWriteStream, openSync, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/common';
import { parseCommandSpec, type CommandSpec } from '../../shared/step/command-spec.js';
import type { Logger } from '../../config/logger.js';
import { allocatePorts, inheritedEnv } from './env.js';
import { LineSplitter, Tail } from './lines.js';
import { liveGroupMembersShared, oomKillCount, recentOomKillCount, startTimeOf } from './proc-stats.js';
import { spawnGroup, stopGroup, type SpawnedGroup } from './process-group.js';
import { ownerIdentity, recordStep, removeStepRecord, type RecordedStep } from './registry.js';
import { ensureDir, unlinkIfPresent } from './fs-ops.js';
import { resultFilePath } from './result-file.js';
import { durationToMs } from '../../shared/durations.js';
import type { LivenessEvidence } from '../../shared/step/liveness.js';
import { StepLiveness, TreeWatcher } from './liveness.js';

// The process machinery shared by every activity that runs a program (runCommand, training,
// simulations): no Temporal context needed. The caller decides how to heartbeat (onProgress),
// how to read a line protocol (onStdoutLine), and how to classify the outcome
// (assertStepSucceeded, readStepResult, collectOutputs).

export interface StepProgress {
  elapsedMs: number;
  /** Resident memory summed over every live process of the step's group. */
  rssBytes: number;
  peakRssBytes: number;
  /** Last non-blank line the step printed on stdout or stderr. */
  lastOutputLine: string | null;
  /** Time since the step's last sign of life (see StepLiveness). */
  silentMs: number;
  longestSilenceMs: number;
  /** The spec's progressTimeout in ms, or null when it has none. */
  progressTimeoutMs: number | null;
  evidence: LivenessEvidence;
}

/** Why Shepherd stopped a step that showed no sign of life for its progressTimeout. */
export interface StallInfo {
  silentMs: number;
  progressTimeoutMs: number;
  evidence: LivenessEvidence;
}

export interface ExecuteStepOptions {
  /** Existing directory: the step's cwd, holding stdout.log, stderr.log and the result file. */
  workspace: string;
  /** On abort the group is stopped (SIGTERM, graceMs, SIGKILL) and executeStep rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Epoch ms by which the group must be gone: SIGTERM at deadline - grace (grace = min(graceMs,
   * a quarter of the time left)), SIGKILL at the deadline; the outcome then has timedOut = true.
   */
  deadline?: number;
  /** Records the step for reapOrphans while it runs. */
  procDir?: string;
  /** How often to sample memory and call onProgress; default 1000 ms. */
  sampleIntervalMs?: number;
  onProgress?: (progress: StepProgress) => void;
  /** Every stdout line, in order (for line protocols); stdout still goes to stdout.log. */
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /**
   * The step's sign-of-life clock, for callers that report progress records themselves
   * (liveness.progress()); default: any output line or workspace file growth counts.
   */
  liveness?: StepLiveness;
  logger?: Logger;
}

export interface StepOutcome {
  /** The program as resolved on PATH, then its args. */
  command: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Stopped by Shepherd at `deadline`. */
  timedOut: boolean;
  /** Stopped by Shepherd because it showed no sign of life for its progressTimeout. */
  stalled: StallInfo | null;
  /** Longest time without a sign of life, the silence before the exit included. */
  longestSilenceMs: number;
  durationMs: number;
  peakRssBytes: number;
  stdoutTail: string[];
  stderrTail: string[];
  lastOutputLine: string | null;
  /** Rise of the kernel's oom_kill counter while the step ran (only measured on abnormal ends). */
  oomKillsDuringStep: number | null;
  /** Allocated ports by variable name. */
  ports: Record<string, number>;
  workspace: string;
  resultFile: string;
}

export const STDOUT_TAIL_LINES = 20;
export const STDERR_TAIL_LINES = 50;
/** How old the OOM-kill count taken as a step's "before" may be (see recentOomKillCount). */
const OOM_READING_MAX_AGE_MS = 250;

// stat first, without throwing for a missing entry: most PATH directories lack the program, and
// a thrown ENOENT (an Error with its stack) per directory was most of a step's resolution time.
function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p, { throwIfNoEntry: false })?.isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const RESOLVED_TTL_MS = 1000;
const resolved = new Map<string, { program: string; at: number }>();

/**
 * Resolves the program before starting anything, so a missing one fails as "not found" (the
 * spawner would otherwise turn it into an anonymous exit 127). A resolution is reused for a
 * second: a sweep resolves the same program hundreds of times a second, a stat and an access per
 * PATH directory each time; a program removed within that second fails as exit 127 instead.
 */
export function resolveProgram(command: string, pathEnv: string, cwd: string): string {
  const cwdMatters = command.includes('/') || pathEnv.split(':').some((dir) => !dir.startsWith('/'));
  const key = `${command}\0${pathEnv}\0${cwdMatters ? cwd : ''}`;
  const now = performance.now();
  const hit = resolved.get(key);
  if (hit && now - hit.at < RESOLVED_TTL_MS) return hit.program;
  const program = searchProgram(command, pathEnv, cwd);
  if (resolved.size > 1000) resolved.clear();
  resolved.set(key, { program, at: now });
  return program;
}

function searchProgram(command: string, pathEnv: string, cwd: string): string {
  if (command.includes('/')) {
    const abs = path.resolve(cwd, command);
    if (isExecutableFile(abs)) return abs;
  } else {
    for (const dir of pathEnv.split(':')) {
      const candidate = path.resolve(cwd, dir || '.', command);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  throw ApplicationFailure.nonRetryable(
    `command not found: ${JSON.stringify(command)} is not an executable file${command.includes('/') ? '' : ` on PATH (${pathEnv})`}`,
    'CommandNotFound',
  );
}

// Opened before the spawn, so the log files exist by the time the program looks at its workspace;
// opened and closed synchronously (one syscall each): the stream's own close goes through the
// thread pool, and those round trips cost a busy worker far more.
function createLog(file: string): WriteStream {
  return createWriteStream(file, { fd: openSync(file, 'w'), autoClose: false });
}

/** Closes a log's descriptor once its stream has finished writing (a destroyed stream closed its own). */
function closeLog(log: WriteStream): void {
  const { fd } = log as WriteStream & { fd: number | null };
  if (typeof fd === 'number') closeSync(fd);
}

function pipeLog(log: WriteStream, file: string, source: Readable, logger: Logger | undefined): WriteStream {
  log.on('error', (err) => {
    // A full disk must not wedge the program on a blocked pipe: keep draining, lose the log.
    logger?.warn({ err, file }, 'step log write failed');
    source.unpipe(log);
    source.resume();
  });
  source.pipe(log);
  return log;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Runs one step in its own process group; see ExecuteStepOptions for stopping and progress. */
export async function executeStep(input: CommandSpec, opts: ExecuteStepOptions): Promise<StepOutcome> {
  const spec = parseCommandSpec(input);
  const { signal, logger } = opts;
  const workspace = path.resolve(opts.workspace);
  signal?.throwIfAborted();

  const baseEnv = { ...inheritedEnv(), ...spec.env };
  const program = resolveProgram(spec.command, baseEnv.PATH ?? '', workspace);
  const resultFile = resultFilePath(workspace);
  // Synchronous, like the log files below: one file and one directory, each a single syscall,
  // where the thread pool's round trip cost a busy worker milliseconds per step.
  ensureDir(path.dirname(resultFile));
  unlinkIfPresent(resultFile);
  const ports = await allocatePorts(spec.ports);
  const token = randomUUID();
  const env: Record<string, string> = {
    ...baseEnv,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    SHEPHERD_RESULT_FILE: resultFile,
    SHEPHERD_WORKSPACE: workspace,
    SHEPHERD_STEP_TOKEN: token,
  };
  signal?.throwIfAborted();

  const oomBefore = recentOomKillCount(OOM_READING_MAX_AGE_MS);
  const started = performance.now();
  const stdoutFile = path.join(workspace, 'stdout.log');
  const stderrFile = path.join(workspace, 'stderr.log');
  const stdoutStream = createLog(stdoutFile);
  let stderrStream: WriteStream;
  try {
    stderrStream = createLog(stderrFile);
  } catch (err) {
    stdoutStream.destroy();
    throw err;
  }
  let group: SpawnedGroup;
  try {
    group = await spawnGroup(program, spec.args, { cwd: workspace, env });
  } catch (err) {
    // Nothing started (fork refused, spawner gone): the open logs must not leak.
    stdoutStream.destroy();
    stderrStream.destroy();
    throw new Error(`could not start ${program}: ${(err as Error).message}`, { cause: err });
  }
  const { pgid } = group;
  const stdoutLog = pipeLog(stdoutStream, stdoutFile, group.stdout, logger);
  const stderrLog = pipeLog(stderrStream, stderrFile, group.stderr, logger);

  let logsClosed = false;
  let recorded: RecordedStep | undefined;
  const leaderStart = group.startTime ?? startTimeOf(group.pid);
  if (opts.procDir && leaderStart !== undefined) {
    try {
      recorded = recordStep(opts.procDir, {
        pid: group.pid,
        pgid,
        startTime: leaderStart,
        token,
        ...ownerIdentity(),
        command: [program, ...spec.args].join(' ').slice(0, 500),
        workspace,
        startedAt: new Date().toISOString(),
      });
    } catch (err) {
      logger?.warn({ err, procDir: opts.procDir }, 'could not record step for reaping; the watchdog still guards it');
    }
  }

  let lastOutputLine: string | null = null;
  const liveness = opts.liveness ?? new StepLiveness('output');
  liveness.restart();
  const stdoutTail = new Tail(STDOUT_TAIL_LINES);
  const stderrTail = new Tail(STDERR_TAIL_LINES);
  const deliver = (cb: ((line: string) => void) | undefined, line: string) => {
    if (!cb) return;
    try {
      cb(line);
    } catch (err) {
      logger?.warn({ err }, 'step output callback threw');
    }
  };
  const outLines = new LineSplitter((line) => {
    stdoutTail.push(line);
    liveness.output();
    if (line.trim() !== '') lastOutputLine = line;
    deliver(opts.onStdoutLine, line);
  });
  const errLines = new LineSplitter((line) => {
    stderrTail.push(line);
    liveness.output();
    if (line.trim() !== '') lastOutputLine = line;
    deliver(opts.onStderrLine, line);
  });
  group.stdout.on('data', (c: Buffer) => outLines.push(c));
  group.stderr.on('data', (c: Buffer) => errLines.push(c));
  const streamsDone = Promise.all([finished(group.stdout, { writable: false }), finished(group.stderr, { writable: false })]).then(
    () => true,
    () => true,
  );

  // Sampling (and so heartbeating) goes on until executeStep returns: stopping leftovers can
  // take the whole grace period, longer than a heartbeat timeout.
  let peakRssBytes = 0;
  let stopped = false;
  const interval = Math.max(50, opts.sampleIntervalMs ?? 1000);
  const progressTimeoutMs = spec.progressTimeout === undefined ? null : durationToMs(spec.progressTimeout);
  let stalled: StallInfo | null = null;
  const watchStall = stallWatch(liveness, workspace, progressTimeoutMs, (info) => {
    stalled = info;
    logger?.warn({ pgid, ...info, lastOutputLine }, 'step stalled: no sign of life for its progressTimeout; stopping it');
    void stop(spec.graceMs);
  });
  const sample = async () => {
    const members = await liveGroupMembersShared(pgid);
    if (stopped) return;
    const rssBytes = members.reduce((sum, p) => sum + p.rssBytes, 0);
    peakRssBytes = Math.max(peakRssBytes, rssBytes);
    const { silentMs, longestSilenceMs, evidence } = liveness.snapshot();
    try {
      opts.onProgress?.({
        elapsedMs: Math.round(performance.now() - started),
        rssBytes,
        peakRssBytes,
        lastOutputLine,
        silentMs,
        longestSilenceMs,
        progressTimeoutMs,
        evidence,
      });
    } catch (err) {
      logger?.warn({ err }, 'step progress callback threw');
    }
    watchStall();
  };
  let sampleTimer = setTimeout(
    function tick() {
      void sample()
        .catch((err: unknown) => logger?.warn({ err }, 'step sampling failed'))
        .finally(() => {
          if (!stopped) sampleTimer = setTimeout(tick, interval);
        });
    },
    Math.min(100, interval),
  );

  let stopping: Promise<boolean> | undefined;
  const stop = (graceMs: number) =>
    (stopping ??= stopGroup(pgid, graceMs, {
      onKill: (survivors) => logger?.warn({ pgid, survivors, graceMs }, 'step processes outlived SIGTERM and the grace period: SIGKILL'),
    }));
  const onAbort = () => void stop(spec.graceMs);
  signal?.addEventListener('abort', onAbort, { once: true });
  // A cancellation that arrived while the logs were opening (the first heartbeat's reply carries
  // it) fired before the listener existed: without this the group would run on, unsupervised.
  if (signal?.aborted) onAbort();

  let timedOut = false;
  let deadlineTimer: NodeJS.Timeout | undefined;
  if (opts.deadline !== undefined) {
    const left = opts.deadline - Date.now();
    const grace = Math.max(0, Math.min(spec.graceMs, Math.floor(left / 4)));
    deadlineTimer = setTimeout(
      () => {
        timedOut = true;
        void stop(grace);
      },
      Math.max(0, left - grace),
    );
  }

  try {
    const exit = await group.exited;
    const durationMs = Math.round(performance.now() - started);
    clearTimeout(deadlineTimer);
    // Whatever the program left in its group (daemons, schedulers) goes with it; when the spawner
    // already saw nothing left but the watchdog (and killed it), there is nothing to look for.
    const gone = exit.groupGone && !stopping ? true : await stop(spec.graceMs);
    if (!gone) logger?.error({ pgid }, 'step process group still has live members after SIGKILL');
    stopped = true;
    clearTimeout(sampleTimer);
    group.release();
    // A process that escaped the group (setsid) could hold the pipes open forever; don't wait for it.
    if (!(await Promise.race([streamsDone, sleep(2000).then(() => false)]))) {
      logger?.warn({ pgid }, 'a process outside the step group still holds its stdout/stderr; detaching');
      group.stdout.destroy();
      group.stderr.destroy();
    }
    outLines.end();
    errLines.end();
    for (const log of [stdoutLog, stderrLog]) if (!log.writableEnded) log.end();
    await Promise.race([group.settled, sleep(2000)]);
    await Promise.all([finished(stdoutLog).catch(() => undefined), finished(stderrLog).catch(() => undefined)]);
    closeLog(stdoutLog);
    closeLog(stderrLog);
    logsClosed = true;

    signal?.throwIfAborted();
    const abnormal = exit.exitCode !== 0 || timedOut || stalled !== null;
    const oomAfter = abnormal ? oomKillCount() : undefined;
    return {
      command: [program, ...spec.args],
      exitCode: exit.exitCode,
      signal: exit.signal,
      timedOut,
      stalled,
      longestSilenceMs: liveness.snapshot().longestSilenceMs,
      durationMs,
      peakRssBytes,
      stdoutTail: stdoutTail.toArray(),
      stderrTail: stderrTail.toArray(),
      lastOutputLine,
      oomKillsDuringStep: oomBefore !== undefined && oomAfter !== undefined ? oomAfter - oomBefore : null,
      ports,
      workspace,
      resultFile,
    };
  } finally {
    stopped = true;
    clearTimeout(sampleTimer);
    clearTimeout(deadlineTimer);
    signal?.removeEventListener('abort', onAbort);
    if (recorded) removeStepRecord(recorded);
    // Left open only when something threw before the logs finished: destroy closes each
    // descriptor after its pending writes.
    if (!logsClosed) for (const log of [stdoutLog, stderrLog]) log.destroy();
  }
}

/**
 * Called on every sample: scans the workspace for growth now and then (only when nothing else
 * shows life: output lines are cheaper evidence), and reports a stall once the silence reaches
 * progressTimeoutMs, after a last scan so a program that just wrote a file is not killed.
 */
function stallWatch(
  liveness: StepLiveness,
  workspace: string,
  progressTimeoutMs: number | null,
  onStall: (info: StallInfo) => void,
): () => void {
  const files = liveness.evidence === 'output' ? new TreeWatcher(workspace) : undefined;
  const scanEveryMs = progressTimeoutMs ? Math.min(5000, Math.max(250, progressTimeoutMs / 4)) : 5000;
  let lastScan = -Infinity;
  let done = false;
  let deciding = false;
  // No scan at the start: most steps are never silent for scanEveryMs, and a step that is gets
  // its baseline from the first scan, its growth seen by the second (still well inside a
  // progressTimeout, which is at least 4 scan intervals or 20 s).
  const scan = async () => {
    lastScan = performance.now();
    if (await files!.check()) liveness.files();
  };
  return () => {
    if (done || deciding) return;
    const { silentMs } = liveness.snapshot();
    if (files && silentMs >= scanEveryMs && performance.now() - lastScan >= scanEveryMs) void scan().catch(() => undefined);
    if (progressTimeoutMs === null || silentMs < progressTimeoutMs) return;
    deciding = true;
    void (files ? scan() : Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        deciding = false;
        const now = liveness.snapshot();
        if (done || now.silentMs < progressTimeoutMs) return;
        done = true;
        onStall({ silentMs: now.silentMs, progressTimeoutMs, evidence: liveness.evidence });
      });
  };
}
