import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type pg from 'pg';
import type { RetryConfig } from '../../shared/schemas.js';
import {
  isModuleReplicate,
  type AggregateSpec,
  type EnvironmentReport,
  type EnvironmentSpec,
  type FieldStats,
  type ParameterValues,
  type ReplicateCommandSpec,
  type ReplicateModuleSpec,
  type ReplicateSpec,
  type SeedPolicy,
  type SimulationJob,
} from '../../shared/simulation/schemas.js';
import { aggregateResults } from '../../shared/simulation/aggregate.js';
import { replicateSeed } from '../../shared/simulation/sweep-plan.js';
import { attemptDeadline, attemptDiskFloor, heartbeatIntervalMs } from '../step/command.js';
import { REPLICATE_FATAL } from '../../shared/failure-types.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { backoffMs } from '../../shared/retry.js';
import type { ActivityDeps } from '../deps.js';
import { createEnvironmentCache, groupCommandRunner } from './environments.js';
import { resolveInsideProject } from '../step/project-paths.js';
import { executeStep, type StepProgress } from '../step/execute-step.js';
import { describeLiveness } from '../../shared/step/liveness.js';
import { assertStepSucceeded } from '../step/failure.js';
import { readStepResult } from '../step/result-file.js';
import { runWorkspaceDir, workspacePath } from '../step/workspace.js';
import { pathSegment } from '../../storage/workspace-layout.js';
import { WorkspaceRecycler } from '../step/workspace-recycler.js';

// Simulation activities. Replicates run in batches: one activity task runs a range of replicates
// with bounded local concurrency, each replicate still a full step (own process group, fresh
// workspace, result file, kill on cancel). Batching keeps a 2,000-replicate sweep to a few dozen
// history events and makes a subprocess replicate cost a process start, not a server round trip.
// Every finished replicate is written to PostgreSQL under (job, parameter, replicate), so a
// retried batch skips what already succeeded and aggregation reads the durable rows.

/** Failures that no replicate of this job can get past: fail the batch (and the sweep) at once. */
const FATAL_TYPES = new Set<string>(REPLICATE_FATAL);

export interface ReplicateBatchInput {
  jobId: string;
  parameterKey: string;
  values: ParameterValues;
  replicate: ReplicateSpec;
  /** First replicate, inclusive, and last, exclusive. */
  from: number;
  to: number;
  seed: SeedPolicy;
  retry: RetryConfig;
  replicateTimeoutMs: number;
  /** Replicates this task runs at once. */
  concurrency: number;
  /** Stop starting replicates once more than this many failed for good: the parameter is lost anyway. */
  failureBudget: number;
  environment?: { spec: EnvironmentSpec; key: string };
}

export interface FailureSample {
  replicate: number;
  error: string;
}

export interface ReplicateBatchResult {
  succeeded: number;
  failed: number;
  /** Succeeded in an earlier attempt (or an earlier run of the same job) and were not run again. */
  reused: number;
  /** Replicates not run because the failure budget was spent. */
  skipped: number;
  failureSamples: FailureSample[];
}

export interface AggregateParameterInput {
  jobId: string;
  parameterKey: string;
  values: ParameterValues;
  replicates: number;
  aggregate: AggregateSpec;
  environmentKey?: string;
}

export interface AggregateParameterResult {
  succeeded: number;
  failed: number;
  aggregates: Record<string, FieldStats>;
}

interface ReplicateRow {
  replicate: number;
  seed: number;
  status: 'succeeded' | 'failed';
  result: unknown;
  error: string | null;
  attempts: number;
  duration_ms: number | null;
  peak_rss_bytes: number | null;
  /** Longest time without output or file growth (command replicates; progressTimeout recommendations). */
  longest_silence_ms?: number | null;
}

export { canonicalJson };

/** Argv placeholders: the same values also arrive as SHEPHERD_* environment variables. */
export function substitute(
  text: string,
  vars: { seed: number; replicate: number; values: ParameterValues; envDir?: string; projectDir: string },
): string {
  return text.replace(
    /\{(seed|replicate|params|envDir|project|param\.([A-Za-z_][A-Za-z0-9_]*))\}/g,
    (whole, name: string, param?: string) => {
      if (param !== undefined) return param in vars.values ? String(vars.values[param]) : whole;
      if (name === 'seed') return String(vars.seed);
      if (name === 'replicate') return String(vars.replicate);
      if (name === 'params') return JSON.stringify(vars.values);
      if (name === 'envDir') return vars.envDir ?? whole;
      return vars.projectDir;
    },
  );
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Buffers replicate rows and writes them in one statement per chunk; a success is never overwritten. */
class ReplicateWriter {
  private pending: ReplicateRow[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: pg.Pool,
    private readonly jobId: string,
    private readonly parameterKey: string,
  ) {}

  add(row: ReplicateRow): void {
    this.pending.push(row);
    if (this.pending.length >= 50) void this.flush().catch(() => undefined);
  }

  /** Resolves when every row added so far is stored; rejects if a write failed. */
  flush(): Promise<void> {
    const rows = this.pending;
    this.pending = [];
    const prior = this.writing;
    const write = prior.then(async () => {
      if (rows.length === 0) return;
      await this.pool.query(
        `INSERT INTO simulation_replicates (job_id, parameter_key, replicate, seed, status, result, error, attempts, duration_ms, peak_rss_bytes, longest_silence_ms)
         SELECT $1, $2, r.replicate, r.seed, r.status, r.result, r.error, r.attempts, r.duration_ms, r.peak_rss_bytes, r.longest_silence_ms
           FROM jsonb_to_recordset($3::jsonb)
             AS r(replicate int, seed bigint, status text, result jsonb, error text, attempts int, duration_ms int, peak_rss_bytes bigint, longest_silence_ms int)
         ON CONFLICT (job_id, parameter_key, replicate) DO UPDATE
           SET seed = EXCLUDED.seed, status = EXCLUDED.status, result = EXCLUDED.result, error = EXCLUDED.error,
               attempts = EXCLUDED.attempts, duration_ms = EXCLUDED.duration_ms, peak_rss_bytes = EXCLUDED.peak_rss_bytes,
               longest_silence_ms = EXCLUDED.longest_silence_ms,
               finished_at = now()
           WHERE simulation_replicates.status = 'failed'`,
        [this.jobId, this.parameterKey, JSON.stringify(rows)],
      );
    });
    // A failed write is reported by the flush that awaits it; later flushes still try theirs.
    this.writing = write.catch(() => undefined);
    return write;
  }
}

interface ReplicateOutcome {
  result: unknown;
  durationMs: number;
  peakRssBytes: number | null;
  longestSilenceMs?: number;
}

export function createSimulationActivities(deps: ActivityDeps) {
  const projectDir = path.resolve(deps.projectDir ?? process.cwd());
  const envs = createEnvironmentCache({
    root: path.join(path.dirname(path.resolve(deps.runsDir)), 'envs'),
    projectDir,
    run: groupCommandRunner,
  });
  const modules = new Map<
    string,
    Promise<(values: ParameterValues, ctx: { seed: number; replicate: number; parameterKey: string }) => unknown>
  >();

  async function loadReplicateFunction(spec: ReplicateModuleSpec, envDir: string | undefined) {
    const abs = envDir ? path.resolve(envDir, spec.module) : resolveInsideProject(projectDir, spec.module, 'replicate.module');
    if (envDir && !abs.startsWith(envDir + path.sep)) {
      throw ApplicationFailure.nonRetryable(`replicate.module: ${spec.module} is outside the environment`, 'ReplicateModuleInvalid');
    }
    const key = `${abs}#${spec.export}`;
    let loaded = modules.get(key);
    if (!loaded) {
      loaded = (async () => {
        if (!existsSync(abs)) throw ApplicationFailure.nonRetryable(`replicate.module: ${abs} does not exist`, 'ReplicateModuleInvalid');
        let mod: Record<string, unknown>;
        try {
          mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
        } catch (err) {
          throw ApplicationFailure.nonRetryable(
            `replicate.module: ${abs} failed to load: ${(err as Error).message}`,
            'ReplicateModuleInvalid',
          );
        }
        const fn = mod[spec.export];
        if (typeof fn !== 'function') {
          throw ApplicationFailure.nonRetryable(
            `replicate.module: ${abs} has no exported function "${spec.export}"`,
            'ReplicateModuleInvalid',
          );
        }
        return fn as (values: ParameterValues, ctx: { seed: number; replicate: number; parameterKey: string }) => unknown;
      })();
      modules.set(key, loaded);
      loaded.catch(() => modules.delete(key));
    }
    return loaded;
  }

  async function runCommandReplicate(
    spec: ReplicateCommandSpec,
    input: ReplicateBatchInput,
    r: {
      replicate: number;
      seed: number;
      attempt: number;
      env?: EnvironmentReport;
      signal: AbortSignal;
      deadline: number;
      workflowId: string;
      runId?: string;
      onProgress?: (p: StepProgress) => void;
      workspaces: WorkspaceRecycler;
    },
  ): Promise<ReplicateOutcome & { workspace: string }> {
    const vars = { seed: r.seed, replicate: r.replicate, values: input.values, envDir: r.env?.dir, projectDir };
    const workspace = workspacePath(deps.runsDir, {
      workflowId: r.workflowId,
      runId: r.runId,
      activityId: `replicate-${r.replicate}`,
      attempt: r.attempt,
    });
    await r.workspaces.prepare(workspace, { files: [], inputs: [] });
    const env: Record<string, string> = {
      ...spec.env,
      SHEPHERD_JOB_ID: input.jobId,
      SHEPHERD_PARAMETER_KEY: input.parameterKey,
      SHEPHERD_PARAMS: JSON.stringify(input.values),
      SHEPHERD_REPLICATE: String(r.replicate),
      SHEPHERD_SEED: String(r.seed),
    };
    if (r.env) {
      env.SHEPHERD_ENV_DIR = r.env.dir;
      // Tools and modules the environment's setup installed come first.
      const bins = [path.join(r.env.dir, 'node_modules', '.bin'), path.join(r.env.dir, '.venv', 'bin')].filter((d) => existsSync(d));
      if (bins.length) env.PATH = [...bins, spec.env.PATH ?? process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(':');
      if (existsSync(path.join(r.env.dir, 'node_modules'))) env.NODE_PATH = path.join(r.env.dir, 'node_modules');
    }
    const stepSpec = {
      command: substitute(spec.command, vars),
      args: spec.args.map((a) => substitute(a, vars)),
      env,
      nonRetryableExitCodes: spec.nonRetryableExitCodes,
      resultRequired: true,
      graceMs: 2000,
      ...(spec.progressTimeout === undefined ? {} : { progressTimeout: spec.progressTimeout }),
    };
    const outcome = await executeStep(stepSpec, {
      workspace,
      signal: r.signal,
      deadline: r.deadline,
      procDir: deps.procDir,
      logger: deps.logger,
      // Memory sampling only for replicates that run long enough to matter.
      sampleIntervalMs: 1000,
      onProgress: r.onProgress,
    });
    assertStepSucceeded({ nonRetryableExitCodes: spec.nonRetryableExitCodes }, outcome);
    const result = await readStepResult(outcome.resultFile, true);
    return {
      result,
      durationMs: outcome.durationMs,
      peakRssBytes: outcome.peakRssBytes,
      longestSilenceMs: outcome.longestSilenceMs,
      workspace,
    };
  }

  async function runModuleReplicate(
    spec: ReplicateModuleSpec,
    input: ReplicateBatchInput,
    r: { replicate: number; seed: number; env?: EnvironmentReport; signal: AbortSignal; timeoutMs: number },
  ): Promise<ReplicateOutcome> {
    const fn = await loadReplicateFunction(spec, r.env?.dir);
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        Promise.resolve().then(() => fn(input.values, { seed: r.seed, replicate: r.replicate, parameterKey: input.parameterKey })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(ApplicationFailure.retryable(`replicate function timed out after ${r.timeoutMs} ms`, 'StepTimedOut')),
            r.timeoutMs,
          );
        }),
      ]);
      return { result, durationMs: Math.round(performance.now() - started), peakRssBytes: null };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    /** Prepares (or validates and reuses) the job's environment on this worker; returns its key and probe. */
    async prepareSimulationEnvironment({ jobId, spec }: { jobId: string; spec: EnvironmentSpec }): Promise<EnvironmentReport> {
      const ctx = Context.current();
      ctx.heartbeat('computing environment key');
      const timer = setInterval(() => ctx.heartbeat('preparing environment'), heartbeatIntervalMs(ctx.info.heartbeatTimeoutMs));
      try {
        return await envs.ensure(spec, { jobId }, { signal: ctx.cancellationSignal, heartbeat: (d) => ctx.heartbeat(d) });
      } finally {
        clearInterval(timer);
      }
    },

    /**
     * Records the job's start. A job ID already used for a different input (or environment) is
     * refused: replicate rows are keyed by job, and mixing two jobs' rows would corrupt both.
     */
    async registerSimulationJob(args: {
      job: SimulationJob;
      environmentKey?: string;
      workflowId: string;
      runId: string;
    }): Promise<{ fingerprint: string }> {
      const { description: _ignored, ...identity } = args.job;
      const fingerprint = createHash('sha256')
        .update(canonicalJson({ ...identity, environmentKey: args.environmentKey ?? null }))
        .digest('hex');
      const { rows } = await deps.pool.query<{ fingerprint: string }>(
        `INSERT INTO simulation_jobs (job_id, fingerprint, input, status, workflow_id, run_id)
         VALUES ($1, $2, $3, 'running', $4, $5)
         ON CONFLICT (job_id) DO UPDATE
           SET status = 'running', workflow_id = EXCLUDED.workflow_id, run_id = EXCLUDED.run_id,
               finished_at = NULL, updated_at = now()
           WHERE simulation_jobs.fingerprint = EXCLUDED.fingerprint
         RETURNING fingerprint`,
        [args.job.jobId, fingerprint, JSON.stringify(args.job), args.workflowId, args.runId],
      );
      if (rows.length === 0) {
        throw ApplicationFailure.nonRetryable(
          `input.jobId: job ${args.job.jobId} already exists with a different input or environment; use a new jobId (results of the two must not mix)`,
          'JobIdConflict',
        );
      }
      return { fingerprint };
    },

    /** Records how the job ended; only the run that registered last may write it. */
    async finishSimulationJob(args: {
      jobId: string;
      runId: string;
      status: string;
      summary: unknown;
      environment?: EnvironmentReport;
    }): Promise<void> {
      await deps.pool.query(
        `UPDATE simulation_jobs SET status = $3, summary = $4, environment = $5, finished_at = now(), updated_at = now()
          WHERE job_id = $1 AND run_id = $2`,
        [args.jobId, args.runId, args.status, JSON.stringify(args.summary), args.environment ? JSON.stringify(args.environment) : null],
      );
    },

    /** Runs replicates [from, to) of one parameter set; see the module comment. */
    async runReplicateBatch(input: ReplicateBatchInput): Promise<ReplicateBatchResult> {
      const ctx = Context.current();
      const { info } = ctx;
      const signal = ctx.cancellationSignal;
      const startedAt = Date.now();
      const activityDeadline = attemptDeadline(startedAt, info.startToCloseTimeoutMs);
      const workflowId = info.workflowExecution?.workflowId ?? `sweep-${input.jobId}-${input.parameterKey}`;
      const progress = { done: 0, failed: 0, running: 0, reused: 0 };
      // The silentest running command replicate, so the Web UI tells a hung one from a slow batch.
      const running = new Map<number, StepProgress>();
      // Set while the next replicate waits for free space (SHEPHERD_DISK_FLOOR), for the Web UI.
      let waiting: string | undefined;
      const details = () => {
        let q: [number, StepProgress] | undefined;
        for (const e of running) if (!q || e[1].silentMs > q[1].silentMs) q = e;
        const base = waiting ? { ...progress, waiting } : progress;
        return q
          ? {
              ...base,
              quietest: {
                replicate: q[0],
                silentMs: q[1].silentMs,
                progressTimeoutMs: q[1].progressTimeoutMs,
                state: describeLiveness(q[1]),
              },
            }
          : base;
      };
      // Command replicates write workspaces: none starts under the disk floor (module replicates write nothing).
      const diskFloorOpen = async () => {
        if (isModuleReplicate(input.replicate)) return;
        await attemptDiskFloor(deps, startedAt, (reason) => (waiting = reason)).finally(() => (waiting = undefined));
      };
      ctx.heartbeat(progress);
      const beat = setInterval(() => ctx.heartbeat(details()), heartbeatIntervalMs(info.heartbeatTimeoutMs));
      const writer = new ReplicateWriter(deps.pool, input.jobId, input.parameterKey);
      // Spares wait in a directory of this attempt's own, beside the replicates' workspaces.
      const runDir = runWorkspaceDir(deps.runsDir, { workflowId, runId: info.workflowExecution?.runId });
      const workspaces = new WorkspaceRecycler(
        path.join(runDir, pathSegment(`spares-${info.activityId}-${info.attempt}`)),
        input.concurrency,
      );
      const flushTimer = setInterval(() => void writer.flush().catch(() => undefined), 1000);
      const samples: FailureSample[] = [];
      let failed = 0;
      let skipped = 0;

      try {
        const env = input.environment
          ? await envs.ensure(input.environment.spec, { jobId: input.jobId, expectedKey: input.environment.key }, { signal })
          : undefined;
        const { rows: done } = await deps.pool.query<{ replicate: number }>(
          `SELECT replicate FROM simulation_replicates
            WHERE job_id = $1 AND parameter_key = $2 AND replicate >= $3 AND replicate < $4 AND status = 'succeeded'`,
          [input.jobId, input.parameterKey, input.from, input.to],
        );
        const already = new Set(done.map((r) => r.replicate));
        progress.reused = already.size;
        const todo: number[] = [];
        for (let i = input.from; i < input.to; i++) if (!already.has(i)) todo.push(i);

        const runOne = async (replicate: number) => {
          const seed = replicateSeed(input.seed, input.parameterKey, replicate);
          let lastError = '';
          let attempts = 0;
          for (let attempt = 1; attempt <= input.retry.maximumAttempts; attempt++) {
            signal.throwIfAborted();
            attempts = attempt;
            const deadline = Math.min(Date.now() + input.replicateTimeoutMs, activityDeadline ?? Number.POSITIVE_INFINITY);
            // Workspace attempts stay unique across activity retries: 1..N, then N+1..2N, ...
            const workspaceAttempt = (info.attempt - 1) * input.retry.maximumAttempts + attempt;
            let workspace: string | undefined;
            try {
              const out = isModuleReplicate(input.replicate)
                ? await runModuleReplicate(input.replicate, input, { replicate, seed, env, signal, timeoutMs: deadline - Date.now() })
                : await runCommandReplicate(input.replicate, input, {
                    replicate,
                    seed,
                    attempt: workspaceAttempt,
                    env,
                    signal,
                    deadline,
                    workflowId,
                    runId: info.workflowExecution?.runId,
                    onProgress: (p) => running.set(replicate, p),
                    workspaces,
                  }).finally(() => running.delete(replicate));
              workspace = 'workspace' in out ? (out.workspace as string) : undefined;
              if (out.result === null || typeof out.result !== 'object' || Array.isArray(out.result)) {
                throw ApplicationFailure.nonRetryable(
                  `replicate result must be a JSON object, got ${truncate(JSON.stringify(out.result) ?? 'undefined', 100)}`,
                  'ResultInvalid',
                );
              }
              writer.add({
                replicate,
                seed,
                status: 'succeeded',
                result: out.result,
                error: null,
                attempts: attempt,
                duration_ms: out.durationMs,
                peak_rss_bytes: out.peakRssBytes,
                longest_silence_ms: out.longestSilenceMs ?? null,
              });
              // Results are in PostgreSQL now; the workspace of a success is only clutter, or the next one's.
              if (workspace) await workspaces.release(workspace);
              return;
            } catch (err) {
              if (signal.aborted || err instanceof CancelledFailure) throw signal.reason ?? err;
              const failure = err as ApplicationFailure;
              if (FATAL_TYPES.has(failure.type ?? '')) throw err;
              lastError = `attempt ${attempt}: ${failure.message}`;
              if (failure.nonRetryable === true || attempt === input.retry.maximumAttempts) break;
              await ctx.sleep(backoffMs(input.retry, attempt));
            }
          }
          failed++;
          progress.failed = failed;
          if (samples.length < 5) samples.push({ replicate, error: truncate(lastError, 1500) });
          writer.add({
            replicate,
            seed,
            status: 'failed',
            result: null,
            error: truncate(lastError, 4000),
            attempts,
            duration_ms: null,
            peak_rss_bytes: null,
          });
        };

        let next = 0;
        let fatal = false;
        const lane = async () => {
          while (next < todo.length && !fatal && !signal.aborted) {
            if (failed > input.failureBudget) {
              skipped = todo.length - next;
              next = todo.length;
              return;
            }
            try {
              await diskFloorOpen();
            } catch (err) {
              fatal = true;
              throw err;
            }
            if (next >= todo.length || fatal || signal.aborted) return;
            const replicate = todo[next++];
            progress.running++;
            try {
              await runOne(replicate);
            } catch (err) {
              fatal = true;
              throw err;
            } finally {
              progress.running--;
              progress.done++;
            }
            // In-process replicates are synchronous: let heartbeats and other tasks through.
            if (isModuleReplicate(input.replicate)) await yieldToLoop();
          }
        };
        // allSettled: on cancellation every lane must finish stopping its process group before
        // this attempt reports back, so "cancelled" always means "no replicate process left".
        const lanes = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(input.concurrency, todo.length)) }, lane));
        const failedLane = lanes.find((l): l is PromiseRejectedResult => l.status === 'rejected');
        if (failedLane) throw failedLane.reason;
        signal.throwIfAborted();
        await writer.flush();
        return { succeeded: input.to - input.from - failed - skipped, failed, reused: already.size, skipped, failureSamples: samples };
      } catch (err) {
        // Keep what finished; a retry of this batch then skips it.
        await writer.flush().catch(() => undefined);
        throw err;
      } finally {
        clearInterval(beat);
        clearInterval(flushTimer);
        // Spares are only clutter: failing to remove one must not replace the batch's own outcome.
        await workspaces.dispose().catch((err: unknown) => deps.logger.warn({ err }, 'could not remove spare workspaces'));
      }
    },

    /**
     * Summarises one parameter set from the stored replicate rows and stores the aggregate.
     * Idempotent: a late or repeated call never replaces an aggregate over more successes.
     */
    async aggregateParameter(input: AggregateParameterInput): Promise<AggregateParameterResult> {
      const { rows } = await deps.pool.query<{ status: string; result: unknown }>(
        `SELECT status, result FROM simulation_replicates
          WHERE job_id = $1 AND parameter_key = $2 AND replicate < $3
          ORDER BY replicate`,
        [input.jobId, input.parameterKey, input.replicates],
      );
      if (rows.length < input.replicates) {
        throw ApplicationFailure.nonRetryable(
          `aggregation of ${input.parameterKey}: only ${rows.length} of ${input.replicates} replicates have a stored outcome`,
          'ReplicatesMissing',
        );
      }
      const results = rows.filter((r) => r.status === 'succeeded').map((r) => r.result);
      const failed = rows.length - results.length;
      const aggregates = aggregateResults(results, input.aggregate);
      await deps.pool.query(
        `INSERT INTO simulation_aggregates (job_id, parameter_key, parameters, replicates, succeeded, failed, aggregates, environment_key, workflow_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (job_id, parameter_key) DO UPDATE
           SET parameters = EXCLUDED.parameters, replicates = EXCLUDED.replicates, succeeded = EXCLUDED.succeeded,
               failed = EXCLUDED.failed, aggregates = EXCLUDED.aggregates, environment_key = EXCLUDED.environment_key,
               workflow_id = EXCLUDED.workflow_id, computed_at = now()
           WHERE EXCLUDED.succeeded >= simulation_aggregates.succeeded`,
        [
          input.jobId,
          input.parameterKey,
          JSON.stringify(input.values),
          input.replicates,
          results.length,
          failed,
          JSON.stringify(aggregates),
          input.environmentKey ?? null,
          Context.current().info.workflowExecution?.workflowId ?? null,
        ],
      );
      return { succeeded: results.length, failed, aggregates };
    },
  };
}
