import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { ReplicateBatchResult } from '../../activities/simulation/activities.js';
import {
  parameterSweepSchema,
  type ParameterSweep,
  type ParameterSweepResult,
  type SweepProgress,
  type SweepState,
  type SweepStatus,
} from '../../shared/simulation/schemas.js';
import { sweepProgressQuery, sweepProgressSignal } from '../../shared/simulation/messages.js';
import {
  batchCount,
  batchRange,
  durationToMs,
  nextSignalThreshold,
  windowShape,
  type BatchRange,
} from '../../shared/simulation/sweep-plan.js';
import { parseInput } from '../validate-input.js';
import { NON_RETRYABLE } from '../../shared/failure-types.js';
import { rootMessage } from '../../shared/failure-message.js';

export { sweepProgressQuery, sweepProgressSignal };

const { aggregateParameter } = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  retry: {
    maximumAttempts: 10,
    initialInterval: '1s',
    maximumInterval: '30s',
    nonRetryableErrorTypes: [...NON_RETRYABLE.sweepAggregation],
  },
});

/** Failures after which running more replicates of this parameter set cannot help. */
const BATCH_NON_RETRYABLE = [...NON_RETRYABLE.replicateBatch];

/** Worst case for one batch: every replicate of every round uses every attempt and its backoff. */
function batchTimeoutMs(input: ParameterSweep, perTaskConcurrency: number): number {
  const rounds = Math.ceil(input.replicatesPerTask / perTaskConcurrency);
  const perReplicate =
    (durationToMs(input.replicateTimeout) + durationToMs(input.replicateRetry.maximumInterval)) * input.replicateRetry.maximumAttempts;
  const setup = input.environmentSpec
    ? durationToMs(input.environmentSpec.setupTimeout) + durationToMs(input.environmentSpec.probeTimeout)
    : 0;
  return rounds * perReplicate + setup + 60_000;
}

function shouldContinueAsNew(limit: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= limit;
}

/**
 * One parameter set: its replicates as batch activities in a sliding window, then — only when
 * every replicate has finished, successfully or for good — the aggregation. Continues as new
 * (carrying its counts) before its history grows large, and stops early, cancelling what is in
 * flight, as soon as the partial-failure policy can no longer be met.
 */
export async function parameterSweep(raw: unknown): Promise<ParameterSweepResult> {
  const input = parseInput(parameterSweepSchema, raw);
  const { jobId, parameterKey: key, replicates: total } = input;
  const state: SweepState = input.state ?? {
    nextBatch: 0,
    succeeded: 0,
    failed: 0,
    failureSamples: [],
    runs: 0,
    startedAt: Date.now(),
  };
  state.runs += 1;
  state.signalsSent ??= 0;
  const signalsSent = () => state.signalsSent ?? 0;
  const batches = batchCount(total, input.replicatesPerTask);
  const { perTaskConcurrency, window } = windowShape(input.concurrency, input.replicatesPerTask);
  const allowedFailures = Math.floor((input.failurePolicy.maxFailedPercent * total) / 100 + 1e-9);

  let status: SweepStatus = 'running';
  let running = 0;
  let aggregated = false;
  const progress = (): SweepProgress => ({
    key,
    status,
    total,
    succeeded: state.succeeded,
    failed: state.failed,
    running,
    aggregated,
    runs: state.runs,
  });
  setHandler(sweepProgressQuery, progress);
  upsertSearchAttributes({ PipelineKind: ['parameterSweep'], PipelineId: [jobId], Target: [key], Stage: [status] });
  const refresh = () => {
    const p = progress();
    setCurrentDetails(
      [
        `**${key}** (${Object.entries(input.values)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')})`,
        `- ${p.succeeded + p.failed}/${total} replicates finished: ${p.succeeded} succeeded, ${p.failed} failed (policy allows ${allowedFailures})`,
        `- ${p.running} running in ${window} task(s) of ${input.replicatesPerTask}, ${perTaskConcurrency} at a time each`,
        `- stage: ${p.status}${p.aggregated ? ', aggregated' : ''}; run ${p.runs} of this sweep (continue-as-new)`,
      ].join('\n'),
    );
  };
  refresh();

  // Progress to the job: at evenly spaced points and on stage changes, at most one a second.
  let lastSignalAt = 0;
  const report = async (force = false) => {
    if (!input.reportTo || signalsSent() >= input.progressSignalBudget) return;
    const finished = state.succeeded + state.failed;
    const due = force || finished >= nextSignalThreshold(signalsSent(), input.progressSignalBudget, total);
    if (!due || (!force && Date.now() - lastSignalAt < 1000)) return;
    state.signalsSent = signalsSent() + 1;
    lastSignalAt = Date.now();
    try {
      await getExternalWorkflowHandle(input.reportTo).signal(sweepProgressSignal, progress());
    } catch {
      // Progress is advisory: a job that is gone or busy must not fail the sweep.
    }
  };
  if (state.runs === 1) await report(true);

  let doomed: string | undefined;
  let externalCancel: unknown;
  const batchScope = new CancellationScope();
  const doom = (reason: string) => {
    if (doomed) return;
    doomed = reason;
    // Replicates still running cannot change the verdict: stop them (their processes are killed).
    batchScope.cancel();
  };

  const runBatch = async (b: BatchRange) => {
    const size = b.to - b.from;
    running += size;
    refresh();
    try {
      const { runReplicateBatch } = proxyActivities<Activities>({
        startToCloseTimeout: batchTimeoutMs(input, perTaskConcurrency),
        heartbeatTimeout: input.heartbeatTimeout,
        retry: { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: BATCH_NON_RETRYABLE },
        // Wait until the worker confirms: cancelled replicates' processes are gone before we go on.
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary: `replicates ${b.from}-${b.to - 1} of ${key}`,
      });
      const r: ReplicateBatchResult = await runReplicateBatch({
        jobId,
        parameterKey: key,
        values: input.values,
        replicate: input.replicate,
        from: b.from,
        to: b.to,
        seed: input.seed,
        retry: input.replicateRetry,
        replicateTimeoutMs: durationToMs(input.replicateTimeout),
        concurrency: perTaskConcurrency,
        failureBudget: Math.max(0, allowedFailures - state.failed),
        environment: input.environment && input.environmentSpec ? { spec: input.environmentSpec, key: input.environment.key } : undefined,
      });
      state.succeeded += r.succeeded;
      state.failed += r.failed;
      for (const s of r.failureSamples) if (state.failureSamples.length < 10) state.failureSamples.push(s);
      if (state.failed > allowedFailures) {
        doom(`${state.failed} of ${total} replicates failed for good, more than the allowed ${input.failurePolicy.maxFailedPercent}%`);
      }
    } catch (err) {
      if (isCancellation(err)) {
        if (!doomed) externalCancel ??= err;
      } else {
        doom(`replicates ${b.from}-${b.to - 1} could not run: ${rootMessage(err)}`);
      }
    } finally {
      running -= size;
      refresh();
    }
    await report();
  };

  let pausedForHistory = false;
  await batchScope.run(async () => {
    const inFlight = new Set<Promise<void>>();
    while (state.nextBatch < batches && !doomed && externalCancel === undefined) {
      if (shouldContinueAsNew(input.continueAsNewAfterEvents)) {
        pausedForHistory = true;
        break;
      }
      if (inFlight.size >= window) {
        await Promise.race(inFlight);
        continue;
      }
      const b = batchRange(state.nextBatch++, total, input.replicatesPerTask);
      const p: Promise<void> = runBatch(b).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
  });

  if (externalCancel !== undefined || CancellationScope.current().consideredCancelled) {
    status = 'cancelled';
    refresh();
    await CancellationScope.nonCancellable(async () => upsertSearchAttributes({ Stage: [status] }));
    throw externalCancel ?? new CancelledFailure(`sweep ${key} cancelled`);
  }

  if (doomed) {
    status = 'failed';
    refresh();
    upsertSearchAttributes({ Stage: [status] });
    throw ApplicationFailure.create({
      message: `parameter set ${key} failed: ${doomed}${state.failureSamples[0] ? `; e.g. replicate ${state.failureSamples[0].replicate}: ${state.failureSamples[0].error}` : ''}`,
      type: 'ParameterFailed',
      nonRetryable: true,
      details: [{ progress: progress(), failureSamples: state.failureSamples }],
    });
  }

  if (pausedForHistory && state.nextBatch < batches) {
    // Every batch of this run has finished; the next run starts with a fresh history.
    await continueAsNew<typeof parameterSweep>({ ...input, state });
  }

  status = 'aggregating';
  refresh();
  upsertSearchAttributes({ Stage: [status] });
  await report(true);
  const agg = await aggregateParameter({
    jobId,
    parameterKey: key,
    values: input.values,
    replicates: total,
    aggregate: input.aggregate,
    environmentKey: input.environment?.key,
  });
  aggregated = true;
  status = 'completed';
  refresh();
  upsertSearchAttributes({ Stage: [status] });
  return {
    key,
    values: input.values,
    total,
    succeeded: agg.succeeded,
    failed: agg.failed,
    aggregates: agg.aggregates,
    failureSamples: state.failureSamples,
    runs: state.runs,
  };
}
