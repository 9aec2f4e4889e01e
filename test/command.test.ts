import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Info } from '@temporalio/activity';
import { type ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCommandActivities,
  executeStep,
  prepareWorkspace,
  reapOrphans,
  type CommandHeartbeat,
  type CommandResult,
  type CommandSpec,
  type StepFailureDetails,
} from '../src/activities/step/command.js';
import type { ActivityDeps } from '../src/activities/deps.js';
import { WATCHDOG_TAG } from '../src/activities/step/process-group.js';
import { readCmdline, startTimeOf } from '../src/activities/step/proc-stats.js';
import { ownerIdentity, recordStep, removeStepRecord } from '../src/activities/step/registry.js';
import { parseCommandSpec } from '../src/shared/step/command-spec.js';
import { createLogger } from '../src/config/logger.js';
import { markedProcesses, waitFor } from './support/procs.js';
import { spawnWorkerProcess } from './support/worker-process.js';
import { applicationFailureOf } from './support/failures.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROGRAMS = fileURLToPath(new URL('./fixtures/programs/', import.meta.url));
const TREE = path.join(PROGRAMS, 'tree.sh');
const HOLD_MEMORY = path.join(PROGRAMS, 'hold-memory.cjs');
const REPORT_ENV = path.join(PROGRAMS, 'report-env.cjs');
const FAKE_WORKER = path.join(PROGRAMS, 'fake-worker.ts');
const MARK = 'SHEPHERD_TEST_MARKER';
const MiB = 1024 * 1024;

const logger = createLogger('silent', 'command-test');
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'shepherd-command-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A MockActivityEnvironment running the real runCommand against fresh directories. */
function setup(info: Partial<Info> = {}) {
  const dir = mkdtempSync(path.join(tmp, 'case-'));
  const deps: ActivityDeps = {
    pool: undefined as unknown as pg.Pool, // runCommand never touches the database
    runsDir: path.join(dir, 'runs'),
    procDir: path.join(dir, 'procs'),
    logger,
  };
  const workflowId = `wf-${randomUUID().slice(0, 8)}`;
  const baseInfo: Partial<Info> = {
    workflowExecution: { workflowId, runId: randomUUID() },
    activityId: 'step-1',
    startToCloseTimeoutMs: 120_000,
    heartbeatTimeoutMs: 3000,
  };
  const { runCommand } = createCommandActivities(deps);
  const newEnv = (extra: Partial<Info> = {}) =>
    new MockActivityEnvironment({ ...baseInfo, ...info, ...extra }, { logger: new DefaultLogger('ERROR') });
  const env = newEnv();
  const beats: CommandHeartbeat[] = [];
  env.on('heartbeat', (d: CommandHeartbeat) => beats.push(d));
  return {
    dir,
    deps,
    env,
    beats,
    run: (spec: CommandSpec) => env.run(runCommand, spec) as Promise<CommandResult>,
    /** Another attempt of the same activity (same workflow and activity id). */
    runAttempt: (attempt: number, spec: CommandSpec) => newEnv({ attempt }).run(runCommand, spec) as Promise<CommandResult>,
    workspace: (attempt = 1) =>
      path.join(
        deps.runsDir,
        workflowId,
        ({ ...baseInfo, ...info }.workflowExecution as { runId: string }).runId,
        'step-1',
        String(attempt),
      ),
  };
}

const failureOf = applicationFailureOf;

const detailsOf = (f: ApplicationFailure) => f.details?.[0] as StepFailureDetails;
const marked = (marker: string) => markedProcesses(MARK, marker);
// The record is written once the worker has the program's pid from the step spawner, a few ms
// after the program started: a program can be ready before its record exists.
// A worker keeps an ended record's file as an idle slot holding FREE, for its next step.
const FREE = '{"free":true}';
const recorded = (procDir: string) =>
  existsSync(procDir) ? readdirSync(procDir).filter((f) => readFileSync(path.join(procDir, f), 'utf8').trim() !== FREE).length : 0;
const tree = (marker: string, extra: Partial<CommandSpec> = {}): CommandSpec => ({
  command: '/bin/sh',
  args: [TREE],
  env: { [MARK]: marker },
  graceMs: 300,
  resultRequired: false,
  ...extra,
});

describe('runCommand: stopping a step stops its whole process group', () => {
  it.each(['CANCELLED', 'WORKER_SHUTDOWN'] as const)(
    'cancellation (%s) sends SIGTERM, then SIGKILLs the descendants that ignore it, and is reported as cancellation',
    async (reason) => {
      const c = setup();
      const marker = randomUUID();
      const running = c.run(tree(marker));
      await waitFor(() => existsSync(path.join(c.workspace(), 'ready')), 'process tree ready');
      // main process and its sleep, TERM-ignoring child and grandchild, watchdog
      expect(marked(marker)).toHaveLength(5);
      await waitFor(() => recorded(c.deps.procDir) === 1, 'the step recorded for reaping');

      c.env.cancel(reason);
      const err = await running.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(CancelledFailure);
      expect((err as CancelledFailure).message).toBe(reason);
      // The main process got SIGTERM first (its trap ran), and nothing survived the SIGKILL.
      expect(readFileSync(path.join(c.workspace(), 'got-term'), 'utf8').trim()).toBe('term');
      expect(marked(marker)).toEqual([]);
      expect(recorded(c.deps.procDir)).toBe(0);
    },
  );

  it("the activity's start-to-close deadline kills the group before the server would time the attempt out", async () => {
    const c = setup({ startToCloseTimeoutMs: 3000 });
    const marker = randomUUID();
    const f = await failureOf(c.run(tree(marker, { graceMs: 5000 })));
    expect(f.type).toBe('StepTimedOut');
    expect(f.nonRetryable).toBe(false);
    expect(detailsOf(f)).toMatchObject({ timedOut: true, possibleOomKill: false });
    expect(existsSync(path.join(c.workspace(), 'got-term'))).toBe(true);
    expect(marked(marker)).toEqual([]);
  });

  it('processes a step leaves behind after exiting 0 are killed when it ends (no orphan keeps a port)', async () => {
    const c = setup();
    const marker = randomUUID();
    const r = await c.run({
      command: '/bin/sh',
      args: ['-c', `sh -c 'trap "" TERM; exec sleep 1000' & echo '{"ok":true}' > "$SHEPHERD_RESULT_FILE"`],
      env: { [MARK]: marker },
      graceMs: 200,
    });
    expect(r.result).toEqual({ ok: true });
    expect(marked(marker)).toEqual([]);
  });
});

// Both ways a group leader can start: forked and set up by the compiled spawner
// (src/activities/step/spawner/shepherd-spawn.c), and setpriv + sh from the Node helper where
// there is no C compiler.
describe.each(['compiled', 'sh'] as const)('a SIGKILLed worker takes its steps with it (%s launcher)', (launcher) => {
  function startFakeWorker(dir: string, marker: string) {
    const workspace = path.join(dir, 'ws');
    const procDir = path.join(dir, 'procs');
    mkdirSync(workspace, { recursive: true });
    const worker = spawn(process.execPath, ['--import', 'tsx', FAKE_WORKER, workspace, procDir, marker, '/bin/sh', TREE], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, SHEPHERD_STEP_LAUNCHER: launcher === 'sh' ? 'sh' : '' },
    });
    return { worker, workspace, procDir, exited: once(worker, 'exit') };
  }
  const watchdogOf = (marker: string) => {
    const pid = marked(marker).find((p) => readCmdline(p)?.includes(`\0${WATCHDOG_TAG}\0`));
    // The watchdog is a fork of the compiled spawner's child or of the sh: its command line names which.
    if (pid !== undefined) expect(readCmdline(pid)!.split('\0')[0]!.endsWith('/shepherd-spawn')).toBe(launcher === 'compiled');
    return pid;
  };

  it('the watchdog kills every process of the group, including SIGTERM-ignoring grandchildren', async () => {
    const marker = randomUUID();
    const { worker, workspace, procDir, exited } = startFakeWorker(mkdtempSync(path.join(tmp, 'fake-')), marker);
    await waitFor(() => existsSync(path.join(workspace, 'ready')), 'step running under the fake worker');
    await waitFor(() => recorded(procDir) === 1, 'the step recorded for reaping');
    expect(marked(marker)).toHaveLength(5);
    expect(watchdogOf(marker)).toBeDefined();

    worker.kill('SIGKILL');
    await exited;
    await waitFor(() => marked(marker).length === 0, 'every step process gone after the worker died', 10_000);

    // The dead worker's record remains; the next worker finds nothing left to kill and drops it.
    expect(readdirSync(procDir)).toHaveLength(1);
    expect(await reapOrphans(procDir, logger)).toEqual({ reaped: 0, stale: 1, kept: 0 });
    expect(readdirSync(procDir)).toEqual([]);
  });

  it('if the watchdog died too, the next worker reaps the survivors by their step token', async () => {
    const marker = randomUUID();
    const { worker, workspace, procDir, exited } = startFakeWorker(mkdtempSync(path.join(tmp, 'fake-')), marker);
    await waitFor(() => existsSync(path.join(workspace, 'ready')), 'step running under the fake worker');
    await waitFor(() => recorded(procDir) === 1, 'the step recorded for reaping');
    const watchdog = watchdogOf(marker);
    expect(watchdog).toBeDefined();
    process.kill(watchdog!, 'SIGKILL');
    worker.kill('SIGKILL');
    await exited;
    // Without its watchdog, the main process still dies with the worker (parent-death signal),
    // but what it started outlives the worker...
    const leader = JSON.parse(readFileSync(path.join(procDir, readdirSync(procDir)[0]!), 'utf8')).pid as number;
    await waitFor(() => !marked(marker).includes(leader), 'the main process killed by its parent-death signal');
    expect(marked(marker)).toHaveLength(3);
    // ...until a worker starts on the same data directory: the real entry point (npm run worker)
    // reaps them before it polls.
    const next = spawnWorkerProcess({ taskQueue: `reap-${marker.slice(0, 8)}`, dataDir: path.dirname(procDir) });
    try {
      await next.ready;
    } finally {
      next.kill('SIGKILL');
      await next.exited;
    }
    expect(marked(marker)).toEqual([]);
    expect(readdirSync(procDir)).toEqual([]);
  });
});

describe('the step registry', () => {
  const rec = (workspace: string) => ({
    pid: 1,
    pgid: 1,
    startTime: 1,
    token: randomUUID(),
    command: 'test',
    workspace,
    startedAt: new Date().toISOString(),
  });

  it('reuses a record file per step running at once, and never shows an ended step as running', async () => {
    const procDir = path.join(mkdtempSync(path.join(tmp, 'slots-')), 'procs');
    const owner = ownerIdentity();
    for (let round = 0; round < 5; round++) {
      // Shorter each round: a record written over a longer one must not keep its tail.
      const ws = (i: number) => `/ws/${round}/${i}/${'x'.repeat((5 - round) * 10)}`;
      const live = [1, 2, 3].map((i) => recordStep(procDir, { ...rec(ws(i)), ...owner }));
      const texts = readdirSync(procDir).map((f) => readFileSync(path.join(procDir, f), 'utf8'));
      // Each slot holds one whole record (a shorter one padded with spaces), never a mix of two.
      expect(texts.map((t) => (JSON.parse(t) as { workspace: string }).workspace).sort()).toEqual([1, 2, 3].map(ws));
      for (const r of live) removeStepRecord(r);
    }
    expect(readdirSync(procDir)).toHaveLength(3);
    expect(recorded(procDir)).toBe(0);
    // A live owner's idle slots are left alone and not counted; once that owner is dead they go.
    expect(await reapOrphans(procDir, logger)).toEqual({ reaped: 0, stale: 0, kept: 0 });
    expect(readdirSync(procDir)).toHaveLength(3);
    const deadOwner = { ownerPid: process.pid, ownerStartTime: owner.ownerStartTime - 1 };
    removeStepRecord(recordStep(procDir, { ...rec('/ws/dead'), ...deadOwner }));
    expect(await reapOrphans(procDir, logger)).toEqual({ reaped: 0, stale: 0, kept: 0 });
    expect(readdirSync(procDir)).toHaveLength(3);
  });

  it('starts a new record file when its idle one was removed meanwhile', () => {
    const procDir = path.join(mkdtempSync(path.join(tmp, 'slots-')), 'procs');
    removeStepRecord(recordStep(procDir, { ...rec('/ws/a'), ...ownerIdentity() }));
    rmSync(procDir, { recursive: true });
    recordStep(procDir, { ...rec('/ws/b'), ...ownerIdentity() });
    expect(readdirSync(procDir).map((f) => JSON.parse(readFileSync(path.join(procDir, f), 'utf8')).workspace)).toEqual(['/ws/b']);
  });
});

describe('reapOrphans', () => {
  it('kills a group left by a dead owner, never a process whose pid matches but start time differs, nor a live owner’s step', async () => {
    const dir = mkdtempSync(path.join(tmp, 'reap-'));
    const procDir = path.join(dir, 'procs');
    const [leftoverMark, strangerMark, liveMark] = [randomUUID(), randomUUID(), randomUUID()];
    const start = (args: string[], mark: string) =>
      spawn(args[0]!, args.slice(1), { cwd: dir, detached: true, stdio: 'ignore', env: { ...process.env, [MARK]: mark } });
    const leftover = start(['/bin/sh', TREE], leftoverMark);
    const stranger = start(['sleep', '1000'], strangerMark);
    const live = start(['sleep', '1000'], liveMark);
    try {
      await waitFor(() => existsSync(path.join(dir, 'ready')), 'leftover tree ready');
      // Same pid as this process, earlier start time: a dead predecessor whose pid was reused.
      const deadOwner = { ownerPid: process.pid, ownerStartTime: startTimeOf(process.pid)! - 1 };
      const rec = (pid: number, startTime: number) => ({
        pid,
        pgid: pid,
        startTime,
        token: randomUUID(),
        command: 'test',
        workspace: dir,
        startedAt: new Date().toISOString(),
      });
      recordStep(procDir, { ...rec(leftover.pid!, startTimeOf(leftover.pid!)!), ...deadOwner });
      // The recorded pid now belongs to a process that started at another time: a stranger.
      recordStep(procDir, { ...rec(stranger.pid!, startTimeOf(stranger.pid!)! + 1), ...deadOwner });
      recordStep(procDir, { ...rec(live.pid!, startTimeOf(live.pid!)!), ...ownerIdentity() });

      expect(await reapOrphans(procDir, logger)).toEqual({ reaped: 1, stale: 1, kept: 1 });
      expect(marked(leftoverMark)).toEqual([]);
      expect(marked(strangerMark)).toEqual([stranger.pid]);
      expect(marked(liveMark)).toEqual([live.pid]);
      expect(readdirSync(procDir)).toHaveLength(1);
    } finally {
      for (const p of [leftover, stranger, live]) {
        try {
          process.kill(-p.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
});

describe('runCommand: workspace per run and attempt', () => {
  const listFiles = `printf '{"files":"%s"}' "$(ls -A | tr '\\n' ' ')" > "$SHEPHERD_RESULT_FILE"`;

  it('starts every attempt in an empty directory and collects outputs only from it', async () => {
    const c = setup();
    const first = await c.run({
      command: '/bin/sh',
      args: ['-c', `echo a,b > out.csv; echo junk > scratch.tmp; echo '{}' > "$SHEPHERD_RESULT_FILE"`],
      outputs: ['out.csv'],
    });
    expect(first.workspace).toBe(c.workspace(1));
    expect(first.outputs).toEqual([{ path: 'out.csv', size: 4 }]);

    // The same attempt again (a reset, a re-run): the earlier files are gone before it starts.
    const again = await c.run({ command: '/bin/sh', args: ['-c', listFiles] });
    expect(again.result).toEqual({ files: '.shepherd stderr.log stdout.log ' });

    // The next attempt gets its own directory; attempt 1's out.csv is not picked up as its output.
    const f = await failureOf(c.runAttempt(2, { command: '/bin/sh', args: ['-c', listFiles], outputs: ['out.csv'] }));
    expect(f.type).toBe('OutputMissing');
    expect(f.nonRetryable).toBe(true);
    expect(existsSync(path.join(c.workspace(2), 'stdout.log'))).toBe(true);
    expect(existsSync(path.join(c.workspace(1), 'out.csv'))).toBe(false);
  });

  it('writes files and copies inputs in before the start', async () => {
    const c = setup();
    const source = path.join(c.dir, 'dataset.csv');
    writeFileSync(source, 'x,y\n1,2\n');
    const r = await c.run({
      command: './run.sh',
      files: [
        {
          path: 'run.sh',
          content:
            '#!/bin/sh\nprintf \'{"config":"%s","data":"%s"}\' "$(cat conf/a.json)" "$(tail -n 1 input/data.csv)" > "$SHEPHERD_RESULT_FILE"\n',
          executable: true,
        },
        { path: 'conf/a.json', content: 'A' },
      ],
      inputs: [{ source, path: 'input/data.csv' }],
    });
    expect(r.result).toEqual({ config: 'A', data: '1,2' });
  });

  it('rejects an output that is a symlink out of the workspace', async () => {
    const c = setup();
    const stale = path.join(c.dir, 'stale.csv');
    writeFileSync(stale, 'old results');
    const f = await failureOf(c.run({ command: '/bin/ln', args: ['-s', stale, 'out.csv'], outputs: ['out.csv'], resultRequired: false }));
    expect(f.type).toBe('OutputOutsideWorkspace');
  });

  it.each([
    [{ files: [{ path: '../escape.txt', content: 'x' }] }, 'spec.files.0.path'],
    [{ inputs: [{ source: '/etc/hostname', path: 'a/../../escape' }] }, 'spec.inputs.0.path'],
    [{ inputs: [{ source: 'relative.csv', path: 'data.csv' }] }, 'spec.inputs.0.source'],
    [{ outputs: ['/etc/passwd'] }, 'spec.outputs.0'],
    [{ outputs: ['.shepherd/result.json'] }, 'spec.outputs.0'],
    [{ env: { SHEPHERD_RESULT_FILE: '/tmp/x' } }, 'spec.env.SHEPHERD_RESULT_FILE'],
    [{ graceMs: -1 }, 'spec.graceMs'],
    [{ nonRetryableExitcodes: [2] }, 'nonRetryableExitcodes'],
  ])('rejects an invalid spec non-retryably, naming the field (%j)', async (extra, field) => {
    const c = setup();
    const f = await failureOf(c.run({ command: 'true', resultRequired: false, ...extra } as CommandSpec));
    expect(f.type).toBe('InvalidCommandSpec');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain(field);
    expect(existsSync(path.join(c.dir, 'escape.txt'))).toBe(false);
    expect(existsSync(c.workspace())).toBe(false);
  });
});

describe('runCommand: environment, ports and the result protocol', () => {
  it('gives each port variable a free port, passes a minimal env without secrets, and reads the result from the file only', async () => {
    const secrets = {
      DATABASE_URL: 'postgres://user:secret@db/x',
      SHEPHERD_WEBHOOK_URL: 'https://hooks.example/secret',
      OPENAI_API_KEY: 'sk-secret',
    };
    const saved = Object.fromEntries(Object.keys(secrets).map((k) => [k, process.env[k]]));
    Object.assign(process.env, secrets);
    try {
      const c = setup();
      const r = await c.run({
        command: 'node',
        args: [REPORT_ENV, 'SCHEDULER_PORT', 'DASHBOARD_PORT'],
        env: { PIPELINE_SEED: '42' },
        ports: ['SCHEDULER_PORT', 'DASHBOARD_PORT'],
      });
      const seen = r.result as { env: Record<string, string>; cwd: string; bound: number[] };
      const ports = [Number(seen.env.SCHEDULER_PORT), Number(seen.env.DASHBOARD_PORT)];
      expect(seen.bound).toEqual(ports);
      expect(ports[0]).not.toBe(ports[1]);
      expect(seen.cwd).toBe(c.workspace());
      expect(seen.env.SHEPHERD_WORKSPACE).toBe(c.workspace());
      expect(path.dirname(path.dirname(seen.env.SHEPHERD_RESULT_FILE!))).toBe(c.workspace());
      expect(seen.env.PIPELINE_SEED).toBe('42');
      expect(seen.env.PATH).toBe(process.env.PATH);
      for (const name of Object.keys(secrets)) expect(seen.env).not.toHaveProperty(name);
      // stdout held JSON-looking garbage; it is logged and tailed, never parsed.
      expect(r.stdoutTail).toEqual(['{"not": "the result"}', 'progress 50%', 'done: {"also": "not the result"}']);
      expect(readFileSync(path.join(c.workspace(), 'stdout.log'), 'utf8')).toContain('progress 50%');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('fails with ResultMissing when the program writes no result file, even if stdout looks like one', async () => {
    const c = setup();
    const f = await failureOf(c.run({ command: '/bin/sh', args: ['-c', `echo '{"accuracy": 0.9}'`] }));
    expect(f.type).toBe('ResultMissing');
    expect(f.nonRetryable).toBe(true);
  });

  it('fails with ResultInvalid on a result file that is not JSON', async () => {
    const c = setup();
    const f = await failureOf(c.run({ command: '/bin/sh', args: ['-c', `echo '{"accuracy": 0.' > "$SHEPHERD_RESULT_FILE"`] }));
    expect(f.type).toBe('ResultInvalid');
    expect(f.nonRetryable).toBe(true);
  });

  it('returns a null result when none is required and none was written', async () => {
    const c = setup();
    const r = await c.run({ command: 'true', resultRequired: false });
    expect(r).toMatchObject({ result: null, exitCode: 0, outputs: [] });
  });
});

describe('runCommand: failures say what happened', () => {
  const stderrLines = `i=1; while [ $i -le 60 ]; do echo "line $i" >&2; i=$((i+1)); done`;

  it('a non-zero exit is a retryable CommandFailed with exit code, stderr tail, duration and peak memory', async () => {
    const c = setup();
    const f = await failureOf(c.run({ command: '/bin/sh', args: ['-c', `${stderrLines}; exit 3`] }));
    expect(f.type).toBe('CommandFailed');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toContain('exited with code 3');
    expect(f.message).toContain('line 60');
    const d = detailsOf(f);
    expect(d).toMatchObject({ exitCode: 3, signal: null, possibleOomKill: false, timedOut: false, workspace: c.workspace() });
    expect(d.stderrTail).toHaveLength(50);
    expect(d.stderrTail[0]).toBe('line 11');
    expect(d.stderrTail[49]).toBe('line 60');
    expect(typeof d.durationMs).toBe('number');
    expect(typeof d.peakRssBytes).toBe('number');
  });

  it('exit codes listed in nonRetryableExitCodes fail non-retryably', async () => {
    const c = setup();
    const f = await failureOf(c.run({ command: '/bin/sh', args: ['-c', 'exit 2'], nonRetryableExitCodes: [2] }));
    expect(f.type).toBe('CommandFailed');
    expect(f.nonRetryable).toBe(true);
  });

  it.each([
    ['killed by SIGKILL', 'kill -KILL $$', { exitCode: null, signal: 'SIGKILL' }],
    ['exit 137', 'exit 137', { exitCode: 137, signal: null }],
  ])('%s is flagged as a possible out-of-memory kill', async (_, script, expected) => {
    const c = setup();
    const f = await failureOf(c.run({ command: '/bin/sh', args: ['-c', `echo loading data >&2; ${script}`] }));
    expect(f.type).toBe('CommandFailed');
    expect(f.message).toMatch(/out-of-memory kill/);
    expect(detailsOf(f)).toMatchObject({ ...expected, possibleOomKill: true, stderrTail: ['loading data'] });
  });

  it('a missing command is non-retryable and named', async () => {
    const c = setup();
    const f = await failureOf(c.run({ command: 'no-such-program-shepherd', resultRequired: false }));
    expect(f.type).toBe('CommandNotFound');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('no-such-program-shepherd');
  });
});

describe('runCommand: heartbeats and memory', () => {
  it('keeps heartbeating while it stops what a finished step left behind (the grace period can outlast a heartbeat timeout)', async () => {
    const c = setup({ heartbeatTimeoutMs: 300 });
    const marker = randomUUID();
    const daemonGotTerm = () => existsSync(path.join(c.workspace(), 'daemon-got-term'));
    let beatsWhileStopping = 0;
    c.env.on('heartbeat', () => {
      if (daemonGotTerm()) beatsWhileStopping++;
    });
    const daemon = `trap "echo term > daemon-got-term" TERM; echo > daemon-ready; while :; do sleep 0.1; done`;
    const r = await c.run({
      command: '/bin/sh',
      args: ['-c', `sh -c '${daemon}' & until [ -e daemon-ready ]; do sleep 0.01; done; echo '{}' > "$SHEPHERD_RESULT_FILE"`],
      env: { [MARK]: marker },
      graceMs: 2000,
    });
    expect(r.result).toEqual({});
    expect(daemonGotTerm()).toBe(true);
    expect(beatsWhileStopping).toBeGreaterThan(0);
    expect(marked(marker)).toEqual([]);
  });

  it('heartbeats elapsed time, group RSS and the last output line; reports the peak RSS', async () => {
    const c = setup({ heartbeatTimeoutMs: 600 });
    const running = c.run({ command: 'node', args: [HOLD_MEMORY, '64'] });
    const beat = await waitFor(
      () => c.beats.find((b) => b.rssBytes >= 64 * MiB && b.lastOutputLine === 'holding 64 MiB'),
      'a heartbeat showing the held memory and the output line',
    );
    expect(beat.elapsedMs).toBeGreaterThan(0);
    writeFileSync(path.join(c.workspace(), 'release'), '');
    const r = await running;
    expect(r.result).toEqual({ held: 64 * MiB });
    expect(r.peakRssBytes).toBeGreaterThanOrEqual(64 * MiB);
  });
});

describe('executeStep (the machinery other activities reuse)', () => {
  it('streams stdout and stderr lines to callbacks and returns the outcome instead of throwing', async () => {
    const workspace = path.join(mkdtempSync(path.join(tmp, 'exec-')), 'ws');
    const spec = parseCommandSpec({ command: '/bin/sh', args: ['-c', 'echo one; echo two; echo oops >&2; printf three; exit 4'] });
    await prepareWorkspace(workspace, spec);
    const out: string[] = [];
    const err: string[] = [];
    const outcome = await executeStep(spec, { workspace, onStdoutLine: (l) => out.push(l), onStderrLine: (l) => err.push(l) });
    expect(out).toEqual(['one', 'two', 'three']);
    expect(err).toEqual(['oops']);
    expect(outcome).toMatchObject({ exitCode: 4, signal: null, timedOut: false, stdoutTail: ['one', 'two', 'three'], workspace });
  });

  it('rejects with the abort reason once the group is gone, leaving other steps alone', async () => {
    const dir = mkdtempSync(path.join(tmp, 'exec-'));
    const [wsA, wsB] = [path.join(dir, 'a'), path.join(dir, 'b')];
    mkdirSync(wsA);
    mkdirSync(wsB);
    const marker = randomUUID();
    const [acA, acB] = [new AbortController(), new AbortController()];
    const a = executeStep(tree(marker), { workspace: wsA, signal: acA.signal });
    const b = executeStep(tree(marker), { workspace: wsB, signal: acB.signal });
    await waitFor(() => existsSync(path.join(wsA, 'ready')) && existsSync(path.join(wsB, 'ready')), 'both trees ready');
    expect(marked(marker)).toHaveLength(10);

    const reason = new Error('operator stop');
    acA.abort(reason);
    await expect(a).rejects.toBe(reason);
    // B's five processes are untouched.
    expect(marked(marker)).toHaveLength(5);
    acB.abort(reason);
    await expect(b).rejects.toBe(reason);
    expect(marked(marker)).toEqual([]);
  });

  it('a cancellation arriving while the step is being spawned still stops its group (seen in CI under load)', async () => {
    const workspace = path.join(mkdtempSync(path.join(tmp, 'exec-')), 'ws');
    mkdirSync(workspace);
    const marker = randomUUID();
    const ac = new AbortController();
    // Abort right after the last check before the spawn passed: the abort then lands while the
    // log files are being opened, before the group exists.
    const checks = ac.signal.throwIfAborted.bind(ac.signal);
    let passed = 0;
    ac.signal.throwIfAborted = () => {
      checks();
      if (++passed === 2) queueMicrotask(() => ac.abort(new Error('cancelled mid-spawn')));
    };
    const run = executeStep(tree(marker), { workspace, signal: ac.signal });
    await expect(run).rejects.toThrow('cancelled mid-spawn');
    expect(existsSync(path.join(workspace, 'stdout.log'))).toBe(true);
    expect(marked(marker)).toEqual([]);
  }, 20_000);
});
