import {
  CancellationScope,
  ChildWorkflowFailure,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertMemo,
  patched,
  upsertSearchAttributes,
  workflowInfo,
  setCurrentDetails,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { experimentBatchSchema, type ExperimentBatchResult, type ExperimentOutcome } from '../../shared/experiments/schemas.js';
import { batchProgressQuery } from '../../shared/experiments/messages.js';
import { experimentRunWorkflowId } from '../../shared/experiments/workflow-ids.js';
import { forEachLimited } from '../../shared/concurrency.js';
import { ALL_FAILED_PATCH, allItemsFailed, outcomeHeadline } from '../../shared/outcome.js';
import { experimentRun } from './experiment-run.js';
import { parseInput } from '../validate-input.js';
import { rootMessage } from '../../shared/failure-message.js';
import { boundedMemoValue } from '../../shared/memo/bounded-memo.js';

const BOUNDED_MEMO_PATCH = 'bounded-memo';

export { batchProgressQuery };

const { recordBatch, exportBatchResults } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 10, maximumInterval: '30s' },
});
// The webhook is best effort: a few tries, then the batch reports notified=false and carries on.
const { notifyBatchSummary } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '2s' },
});

/** @deprecated the old name of experimentRunWorkflowId (it returns a workflow ID, not a run ID). */
export const experimentRunId = experimentRunWorkflowId;

function renderDetails(batchId: string, outcomes: ExperimentOutcome[], headline?: string): string {
  const now = Date.now();
  const lines = outcomes.map((o) => {
    if (o.status === 'running') return `- ${o.name}: running ${Math.round((now - (o.startedAt ?? now)) / 1000)}s`;
    if (o.status === 'succeeded') return `- ${o.name}: done, accuracy ${o.metrics?.accuracy ?? 'n/a'}`;
    if (o.status === 'failed') return `- ${o.name}: failed: ${o.error}`;
    return `- ${o.name}: ${o.status}`;
  });
  return [`**Batch ${batchId}**${headline ? ` ${headline}` : ''}`, ...lines].join('\n');
}

/** A batch of experiments, each a child workflow with a deterministic ID, at most N at once. */
export async function experimentBatch(rawInput: unknown): Promise<ExperimentBatchResult> {
  const input = parseInput(experimentBatchSchema, rawInput);
  const { batchId } = input;
  upsertSearchAttributes({ PipelineKind: ['experimentBatch'], PipelineId: [batchId], Stage: ['running'] });
  upsertMemo({ effectiveInput: patched(BOUNDED_MEMO_PATCH) ? boundedMemoValue(input) : input });

  const outcomes: ExperimentOutcome[] = input.experiments.map((e) => ({ name: e.name, status: 'queued' }));
  setHandler(batchProgressQuery, () => outcomes);
  const refresh = () => setCurrentDetails(renderDetails(batchId, outcomes));
  refresh();

  await recordBatch({ batchId, status: 'running', input, workflowId: workflowInfo().workflowId });

  let cancellation: unknown;
  try {
    await forEachLimited(input.experiments, input.maxConcurrency, async (experiment, i) => {
      const outcome = outcomes[i];
      outcome.status = 'running';
      outcome.startedAt = Date.now();
      refresh();
      try {
        const result = await executeChild(experimentRun, {
          workflowId: experimentRunWorkflowId(batchId, experiment.name),
          args: [
            {
              batchId,
              experiment,
              retry: input.retry,
              timeout: experiment.timeout ?? input.experimentTimeout,
              heartbeatTimeout: input.heartbeatTimeout,
            },
          ],
          staticSummary: `experiment ${experiment.name}`,
        });
        Object.assign(outcome, {
          status: 'succeeded',
          metrics: result.metrics,
          attempts: result.attempt,
          durationMs: result.durationMs,
          peakRssBytes: result.peakRssBytes,
        });
      } catch (err) {
        if (isCancellation(err)) {
          outcome.status = 'cancelled';
          throw err;
        }
        outcome.status = 'failed';
        outcome.error = err instanceof ChildWorkflowFailure ? rootMessage(err) : String(err);
      } finally {
        outcome.finishedAt = Date.now();
        refresh();
      }
    });
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancellation = err;
  }
  const cancelled = cancellation !== undefined;

  const succeeded = outcomes.filter((o) => o.status === 'succeeded').length;
  const failed = outcomes.filter((o) => o.status === 'failed').length;
  const status: ExperimentBatchResult['status'] = cancelled
    ? 'cancelled'
    : failed === 0
      ? 'completed'
      : succeeded === 0
        ? 'failed'
        : 'completed_with_failures';
  const result: ExperimentBatchResult = { batchId, status, succeeded, failed, experiments: outcomes, notified: false };

  // Bookkeeping and the notification must happen even when the batch was cancelled.
  const headline = outcomeHeadline(status, succeeded, failed, 'experiments');
  setCurrentDetails(renderDetails(batchId, outcomes, headline));
  await CancellationScope.nonCancellable(async () => {
    upsertSearchAttributes({ Stage: [status] });
    await recordBatch({ batchId, status, summary: { succeeded, failed, experiments: outcomes }, workflowId: workflowInfo().workflowId });
    await exportBatchResults({ batchId, format: 'csv' }).catch(() => undefined);
    if (input.notify) {
      try {
        const sent = await notifyBatchSummary({ batchId, status, succeeded, failed, experiments: outcomes });
        result.notified = sent.sent;
      } catch {
        result.notified = false;
      }
    }
  });
  if (cancelled) throw cancellation;
  // Every experiment failed: the batch fails (red in the Web UI) with its summary as details.
  // Patched: batches recorded before this rule completed with status "failed".
  if (status === 'failed' && patched(ALL_FAILED_PATCH)) throw allItemsFailed(`batch ${batchId}: ${headline}`, result);
  return result;
}
