import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowFailure,
  executeChild,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import {
  deriveParameterKey,
  simulationJobSchema,
  type EnvironmentReport,
  type ParameterOutcome,
  type ParameterSweepInput,
  type SimulationJobResult,
  type SweepProgress,
} from '../../shared/simulation/schemas.js';
import { parameterSweep } from './parameter-sweep.js';
import { simulationProgressQuery, sweepProgressSignal, type SimulationJobProgress } from '../../shared/simulation/messages.js';
import { sweepWorkflowId } from '../../shared/simulation/workflow-ids.js';
import {
  defaultReplicatesPerTask,
  legacyReplicatesPerTask,
  LARGER_SWEEP_TASKS_PATCH,
  durationToMs,
  formatDurationMs,
  progressSignalBudget,
  sweepConcurrency,
} from '../../shared/simulation/sweep-plan.js';
import { parseInput } from '../validate-input.js';
import { NON_RETRYABLE } from '../../shared/failure-types.js';
import { rootMessage } from '../../shared/failure-message.js';
import { ALL_FAILED_PATCH, allItemsFailed, outcomeHeadline } from '../../shared/outcome.js';
import { boundedMemoValue } from '../../shared/memo/bounded-memo.js';

const BOUNDED_MEMO_PATCH = 'bounded-memo';

export type { SimulationJobProgress };
export { simulationProgressQuery };

const { registerSimulationJob, finishSimulationJob } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: {
    maximumAttempts: 10,
    initialInterval: '1s',
    maximumInterval: '30s',
    nonRetryableErrorTypes: [...NON_RETRYABLE.simulationRegistration],
  },
});

export { sweepWorkflowId };

const FINAL = new Set(['completed', 'failed', 'cancelled']);
const MAX_RESULT_CHARS = 1_000_000;

/**
 * A simulation job: an optional validated environment, then one parameterSweep child per
 * parameter set (at most maxConcurrentSweeps at once, sharing maxConcurrentReplicates), then the
 * per-parameter aggregates as the result. An overall timeout or a cancellation cancels every
 * sweep, which kills every replicate process, and the job reports how far it got.
 */
export async function simulationJob(raw: unknown): Promise<SimulationJobResult> {
  const job = parseInput(simulationJobSchema, raw);
  const { jobId } = job;
  const { workflowId, runId } = workflowInfo();
  const started = Date.now();
  let stage = 'preparing';
  upsertSearchAttributes({ PipelineKind: ['simulationJob'], PipelineId: [jobId], Stage: [stage] });
  upsertMemo({ effectiveInput: patched(BOUNDED_MEMO_PATCH) ? boundedMemoValue(job) : job });

  const params = job.parameters.map((p, index) => ({ index, key: p.key ?? deriveParameterKey(p.values), values: p.values }));
  const outcomes: ParameterOutcome[] = params.map((p) => ({
    key: p.key,
    values: p.values,
    status: 'pending',
    total: job.replicates,
    succeeded: 0,
    failed: 0,
    running: 0,
    aggregated: false,
    runs: 0,
  }));
  const byKey = new Map(outcomes.map((o) => [o.key, o]));
  let environment: EnvironmentReport | undefined;
  let headline: string | undefined;

  const totals = () => ({
    parameters: outcomes.length,
    replicates: outcomes.length * job.replicates,
    succeeded: outcomes.reduce((n, o) => n + o.succeeded, 0),
    failed: outcomes.reduce((n, o) => n + o.failed, 0),
    running: outcomes.reduce((n, o) => n + o.running, 0),
    aggregated: outcomes.filter((o) => o.aggregated).length,
  });
  const snapshot = (): SimulationJobProgress => ({
    jobId,
    stage,
    environment,
    totals: totals(),
    parameters: outcomes.map(({ key, status, total, succeeded, failed, running, aggregated, runs }) => ({
      key,
      status,
      total,
      succeeded,
      failed,
      running,
      aggregated,
      runs,
    })),
  });
  const refresh = () => {
    const t = totals();
    const lines = outcomes
      .slice(0, 25)
      .map(
        (o) =>
          `- ${o.key}: ${o.status}, ${o.succeeded + o.failed}/${o.total} done, ${o.failed} failed, ${o.running} running${o.aggregated ? ', aggregated' : ''}`,
      );
    if (outcomes.length > 25) lines.push(`- … and ${outcomes.length - 25} more parameter sets`);
    setCurrentDetails(
      [
        `**Simulation ${jobId}**: ${headline ?? stage}`,
        `${t.succeeded + t.failed}/${t.replicates} replicates finished (${t.failed} failed, ${t.running} running); ${t.aggregated}/${t.parameters} parameter sets aggregated`,
        environment ? `environment ${environment.key} (${environment.action}, probe ${environment.probe.ok ? 'ok' : 'failed'})` : '',
        ...lines,
      ]
        .filter(Boolean)
        .join('\n'),
    );
  };
  const setStage = (s: string) => {
    stage = s;
    upsertSearchAttributes({ Stage: [s] });
    refresh();
  };
  setHandler(simulationProgressQuery, snapshot);
  setHandler(sweepProgressSignal, (p) => {
    const o = byKey.get(p.key);
    // A late signal must not move a finished parameter back to "running".
    if (o && !FINAL.has(o.status))
      Object.assign(o, {
        status: p.status,
        succeeded: p.succeeded,
        failed: p.failed,
        running: p.running,
        aggregated: p.aggregated,
        runs: p.runs,
      });
    refresh();
  });
  refresh();

  // Every running sweep runs at least one replicate, so more sweeps at once than the replicate
  // budget would exceed maxConcurrentReplicates. Patched: runs recorded before the cap keep theirs.
  const sweepCap = job.maxConcurrentSweeps ?? 100;
  const capByBudget = Math.min(params.length, sweepCap) > job.maxConcurrentReplicates && patched('sweeps-within-replicate-budget');
  const activeSweeps = Math.min(params.length, sweepCap, capByBudget ? job.maxConcurrentReplicates : sweepCap);
  const sweepBase: Omit<ParameterSweepInput, 'parameterKey' | 'parameterIndex' | 'values'> = {
    jobId,
    replicate: job.replicate,
    replicates: job.replicates,
    seed: job.seed,
    concurrency: sweepConcurrency(job.maxConcurrentReplicates, activeSweeps),
    replicatesPerTask:
      job.replicatesPerTask ??
      (patched(LARGER_SWEEP_TASKS_PATCH) ? defaultReplicatesPerTask(job.replicates) : legacyReplicatesPerTask(job.replicates)),
    replicateRetry: job.replicateRetry,
    replicateTimeout: job.replicateTimeout,
    heartbeatTimeout: job.heartbeatTimeout,
    aggregate: job.aggregate,
    failurePolicy: job.failurePolicy,
    continueAsNewAfterEvents: job.continueAsNewAfterEvents,
    environmentSpec: job.environment,
    reportTo: workflowId,
    progressSignalBudget: progressSignalBudget(params.length),
  };

  const work = new CancellationScope();
  let timedOut = false;
  const timer = new CancellationScope();
  if (job.timeout !== undefined) {
    void timer
      .run(() => sleep(durationToMs(job.timeout!)))
      .then(
        () => {
          timedOut = true;
          work.cancel();
        },
        () => undefined,
      );
  }

  let setupFailure: unknown;
  try {
    await work.run(async () => {
      if (job.environment) {
        setStage('preparing environment');
        const { prepareSimulationEnvironment } = proxyActivities<Activities>({
          startToCloseTimeout: durationToMs(job.environment.setupTimeout) + 2 * durationToMs(job.environment.probeTimeout) + 5 * 60_000,
          heartbeatTimeout: '1m',
          retry: {
            maximumAttempts: 3,
            initialInterval: '2s',
            nonRetryableErrorTypes: [...NON_RETRYABLE.simulationEnvironment],
          },
          summary: `environment for ${jobId}`,
        });
        environment = await prepareSimulationEnvironment({ jobId, spec: job.environment });
      }
      await registerSimulationJob({ job, environmentKey: environment?.key, workflowId, runId });
      setStage('running');

      let next = 0;
      const lane = async () => {
        while (next < params.length && !work.consideredCancelled) {
          const p = params[next++];
          const o = outcomes[p.index];
          o.status = 'running';
          refresh();
          try {
            const r = await executeChild(parameterSweep, {
              workflowId: sweepWorkflowId(jobId, p.key),
              args: [{ ...sweepBase, parameterKey: p.key, parameterIndex: p.index, values: p.values, environment }],
              // If the job is terminated rather than cancelled, its sweeps still stop their replicates.
              parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
              staticSummary: `${jobId}: ${p.key}`,
            });
            Object.assign(o, {
              status: 'completed',
              succeeded: r.succeeded,
              failed: r.failed,
              running: 0,
              aggregated: true,
              runs: r.runs,
              aggregates: r.aggregates,
              failureSamples: r.failureSamples,
            });
          } catch (err) {
            o.running = 0;
            if (isCancellation(err)) o.status = 'cancelled';
            else {
              o.status = 'failed';
              o.error = rootMessage(err);
              const cause = err instanceof ChildWorkflowFailure ? err.cause : undefined;
              const details =
                cause instanceof ApplicationFailure
                  ? (cause.details?.[0] as { progress?: SweepProgress; failureSamples?: ParameterOutcome['failureSamples'] } | undefined)
                  : undefined;
              if (details?.progress)
                Object.assign(o, { succeeded: details.progress.succeeded, failed: details.progress.failed, runs: details.progress.runs });
              if (details?.failureSamples) o.failureSamples = details.failureSamples;
            }
          }
          refresh();
        }
      };
      await Promise.all(Array.from({ length: activeSweeps }, lane));
    });
  } catch (err) {
    if (!isCancellation(err)) setupFailure = err;
  } finally {
    timer.cancel();
  }

  const stopped = timedOut || work.consideredCancelled;
  const t = totals();
  const parametersFailed = outcomes.filter((o) => o.status === 'failed').length;
  const status: SimulationJobResult['status'] =
    parametersFailed === 0 ? 'completed' : parametersFailed === outcomes.length ? 'failed' : 'completed_with_failures';
  const finalStatus = setupFailure ? 'failed' : timedOut ? 'timed_out' : stopped ? 'cancelled' : status;
  const result: SimulationJobResult = {
    jobId,
    status,
    totals: { parameters: t.parameters, replicates: t.replicates, succeeded: t.succeeded, failed: t.failed, parametersFailed },
    environment,
    parameters: outcomes,
    durationMs: Date.now() - started,
  };

  // Results travel through Temporal (about 2 MB per payload); huge aggregate sets stay in the table.
  if (JSON.stringify(result).length > MAX_RESULT_CHARS) {
    result.parameters = outcomes.map(({ aggregates: _dropped, ...rest }) => rest);
    result.aggregatesOmitted = `too large to return; SELECT * FROM simulation_aggregates WHERE job_id = '${jobId}'`;
    if (JSON.stringify(result).length > MAX_RESULT_CHARS) {
      result.parameters = result.parameters.map(({ failureSamples: _samples, ...rest }) => ({ ...rest, error: rest.error?.slice(0, 300) }));
    }
  }

  // Bookkeeping must happen even when the job was cancelled.
  if (!setupFailure && !stopped) headline = outcomeHeadline(status, outcomes.length - parametersFailed, parametersFailed, 'parameter sets');
  await CancellationScope.nonCancellable(async () => {
    setStage(finalStatus);
    // Keyed by this run's ID: a job refused for reusing another job's ID never touches that job's row.
    await finishSimulationJob({
      jobId,
      runId,
      status: finalStatus,
      summary: { ...result, parameters: snapshot().parameters },
      environment,
    }).catch(() => undefined);
  });

  if (setupFailure) {
    throw ApplicationFailure.nonRetryable(`simulation job ${jobId} could not start: ${rootMessage(setupFailure)}`, 'SimulationJobFailed');
  }
  if (timedOut) {
    throw ApplicationFailure.nonRetryable(
      `simulation job ${jobId} timed out after ${formatDurationMs(durationToMs(job.timeout!))}: ${t.succeeded + t.failed} of ${t.replicates} replicates finished ` +
        `(${t.failed} failed), ${t.aggregated} of ${t.parameters} parameter sets aggregated; every sweep was cancelled`,
      'SimulationJobTimedOut',
      snapshot(),
    );
  }
  if (stopped) throw new CancelledFailure(`simulation job ${jobId} cancelled`);
  // Every parameter set failed: the job fails, its summary in the details (see shared/outcome.ts).
  // Patched: jobs recorded before this rule completed with status "failed".
  if (status === 'failed' && patched(ALL_FAILED_PATCH)) throw allItemsFailed(`simulation job ${jobId}: ${headline}`, result);
  return result;
}
