import { Client, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { experimentBatchSchema, type ExperimentBatchResult, type ExperimentOutcome } from '../config/experiments.js';
import { describeIssues } from '../config/shared.js';

export const EXPERIMENT_BATCH = 'experimentBatch';

export function experimentBatchWorkflowId(batchId: string): string {
  return `experiment-batch-${batchId}`;
}

import { InvalidInputError } from './errors.js';
export { InvalidInputError };

export interface StartBatchOptions {
  taskQueue?: string;
  /** Attach to a batch with the same ID that is still running instead of failing. */
  attachIfRunning?: boolean;
}

/** Validates at the edge (so the caller sees the field at once), then starts the batch workflow. */
export async function startExperimentBatch(client: Client, input: unknown, opts: StartBatchOptions = {}): Promise<WorkflowHandle> {
  const parsed = experimentBatchSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(`invalid experiment batch: ${describeIssues(parsed.error)}`);
  const { batchId } = parsed.data;
  const workflowId = experimentBatchWorkflowId(batchId);
  try {
    return await client.workflow.start(EXPERIMENT_BATCH, {
      workflowId,
      taskQueue: opts.taskQueue ?? process.env.SHEPHERD_TASK_QUEUE ?? 'shepherd',
      args: [input],
      searchAttributes: { PipelineKind: [EXPERIMENT_BATCH], PipelineId: [batchId] },
      memo: { description: parsed.data.description ?? '', experiments: parsed.data.experiments.length },
      staticSummary: `experiment batch ${batchId} (${parsed.data.experiments.length} experiments)`,
      workflowIdConflictPolicy: opts.attachIfRunning ? 'USE_EXISTING' : 'FAIL',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new Error(`batch ${batchId} is already running (workflow ${workflowId}); watch it with "shepherd watch ${batchId}"`);
    }
    throw err;
  }
}

export async function batchProgress(handle: WorkflowHandle): Promise<ExperimentOutcome[]> {
  return handle.query<ExperimentOutcome[]>('progress');
}

export type { ExperimentBatchResult, ExperimentOutcome };
