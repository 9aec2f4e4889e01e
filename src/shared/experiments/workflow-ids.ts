// Workflow type names and IDs of the experiment pipeline. IDs are derived from the input so that
// a second start of the same batch or experiment finds the first instead of duplicating it.

export const EXPERIMENT_BATCH = 'experimentBatch';
export const EXPERIMENT_RUN = 'experimentRun';

export function experimentBatchWorkflowId(batchId: string): string {
  return `experiment-batch-${batchId}`;
}

export function experimentRunWorkflowId(batchId: string, experiment: string): string {
  return `experiment-${batchId}-${experiment}`;
}
