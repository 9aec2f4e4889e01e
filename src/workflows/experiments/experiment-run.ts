import {
  ActivityCancellationType,
  ApplicationFailure,
  patched,
  proxyActivities,
  TemporalFailure,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { experimentRunInputSchema, type ExperimentRunInput } from '../../shared/experiments/schemas.js';
import { parseInput } from '../validate-input.js';
import { NON_RETRYABLE } from '../../shared/failure-types.js';
import type { ExperimentRunResult } from '../../activities/experiments/activities.js';
import { rootMessage } from '../../shared/failure-message.js';

const { recordExperimentResult } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s' },
});

/** The step's structured failure (exit code, signal, stderr tail, peak RSS), when a program ran and failed. */
function stepFailure(err: unknown): { failure?: Record<string, unknown>; exitCode?: number | null } {
  for (let e: unknown = err; e instanceof TemporalFailure; e = e.cause) {
    const d = e instanceof ApplicationFailure ? e.details?.[0] : undefined;
    if (d && typeof d === 'object' && 'exitCode' in d && 'stderrTail' in d) {
      return { failure: d as Record<string, unknown>, exitCode: (d as { exitCode: number | null }).exitCode };
    }
  }
  return {};
}

/** One experiment: a command step in a fresh workspace, then an idempotent result write. */
export async function experimentRun(rawInput: ExperimentRunInput): Promise<ExperimentRunResult> {
  const input = parseInput(experimentRunInputSchema, rawInput);
  const { batchId, experiment } = input;
  upsertSearchAttributes({ PipelineKind: ['experimentRun'], PipelineId: [batchId], Target: [experiment.name], Stage: ['running'] });
  const { runExperiment } = proxyActivities<Activities>({
    startToCloseTimeout: input.timeout,
    heartbeatTimeout: input.heartbeatTimeout,
    retry: { ...input.retry, nonRetryableErrorTypes: [...NON_RETRYABLE.experimentStep] },
    summary: `${experiment.command} ${experiment.name}`,
    // Wait for the worker to confirm: a cancelled experiment closes only once its process group is
    // gone, and the step's end is recorded as a cancellation. Patched: older runs did not wait.
    ...(patched('experiment-step-cancel-waits') ? { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED } : {}),
  });
  const startedAt = Date.now();
  try {
    const result = await runExperiment({ batchId, experiment });
    await recordExperimentResult({
      batchId,
      experiment: experiment.name,
      status: 'succeeded',
      metrics: result.metrics,
      params: experiment.params,
      dataset: experiment.dataset ?? null,
      command: [experiment.command, ...experiment.args],
      attempt: result.attempt,
      workflowId: workflowInfo().workflowId,
      runId: workflowInfo().runId,
      durationMs: result.durationMs,
      // Declared outputs and, with an artifact store, where they are kept. (Only the activity's
      // arguments change: replay does not compare them, so running executions are unaffected.)
      outputs: result.outputs,
      ...(result.longestSilenceMs === undefined ? {} : { longestSilenceMs: result.longestSilenceMs }),
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(Date.now()).toISOString(),
    });
    upsertSearchAttributes({ Stage: ['succeeded'] });
    return result;
  } catch (err) {
    const message = rootMessage(err);
    const step = stepFailure(err);
    await recordExperimentResult({
      batchId,
      experiment: experiment.name,
      status: 'failed',
      error: message,
      // Queryable across runs: "which experiments were SIGKILLed?", not only a message to read.
      ...step,
      params: experiment.params,
      dataset: experiment.dataset ?? null,
      command: [experiment.command, ...experiment.args],
      // The attempt the step failed on; a non-retryable failure can end well before the last one.
      attempt: typeof step.failure?.attempt === 'number' ? step.failure.attempt : input.retry.maximumAttempts,
      workflowId: workflowInfo().workflowId,
      runId: workflowInfo().runId,
      startedAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(Date.now()).toISOString(),
    });
    upsertSearchAttributes({ Stage: ['failed'] });
    throw ApplicationFailure.nonRetryable(`experiment ${experiment.name} failed: ${message}`, 'ExperimentFailed');
  }
}
