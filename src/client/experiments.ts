import { type Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { experimentBatchSchema, type ExperimentBatchResult, type ExperimentOutcome } from '../shared/experiments/schemas.js';
import { describeIssues } from '../shared/schemas.js';
import { batchProgressQuery } from '../shared/experiments/messages.js';
import { EXPERIMENT_BATCH, experimentBatchWorkflowId } from '../shared/experiments/workflow-ids.js';
import { PIPELINE_ID, PIPELINE_KIND } from '../shared/search-attributes.js';
import type { experimentBatch } from '../workflows/experiments/experiment-batch.js';

export { EXPERIMENT_BATCH, experimentBatchWorkflowId };

import { InvalidInputError } from './errors.js';
export { InvalidInputError };

export interface StartBatchOptions {
  taskQueue?: string;
  /** Attach to a batch with the same ID that is still running instead of failing. */
  attachIfRunning?: boolean;
}

/** Validates at the edge (so the caller sees the field at once), then starts the batch workflow. */
export async function startExperimentBatch(
  client: Client,
  input: unknown,
  opts: StartBatchOptions = {},
): Promise<WorkflowHandle<typeof experimentBatch>> {
  const parsed = experimentBatchSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(`invalid experiment batch: ${describeIssues(parsed.error)}`);
  const { batchId } = parsed.data;
  const workflowId = experimentBatchWorkflowId(batchId);
  try {
    return await client.workflow.start<typeof experimentBatch>(EXPERIMENT_BATCH, {
      workflowId,
      taskQueue: opts.taskQueue ?? process.env.SHEPHERD_TASK_QUEUE ?? 'shepherd',
      args: [input],
      typedSearchAttributes: [
        { key: PIPELINE_KIND, value: EXPERIMENT_BATCH },
        { key: PIPELINE_ID, value: batchId },
      ],
      memo: { description: parsed.data.description ?? '', experiments: parsed.data.experiments.length },
      staticSummary: `experiment batch ${batchId} (${parsed.data.experiments.length} experiments)`,
      workflowIdConflictPolicy: opts.attachIfRunning ? 'USE_EXISTING' : 'FAIL',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new Error(`batch ${batchId} is already running (workflow ${workflowId}); watch it with "shepherd watch ${batchId}"`, {
        cause: err,
      });
    }
    throw err;
  }
}

export async function batchProgress(handle: WorkflowHandle): Promise<ExperimentOutcome[]> {
  return handle.query(batchProgressQuery);
}

export type { ExperimentBatchResult, ExperimentOutcome };
