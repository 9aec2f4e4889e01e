// Workflow type name and ID of the training pipeline: one long-running queue per name.

export const TRAINING_QUEUE = 'trainingQueue';
export const TRAINING_QUEUE_ID_PREFIX = 'training-queue-';

/** One workflow per queue name: the ID is derived from the name, so a second start is refused by Temporal. */
export function trainingQueueWorkflowId(queue: string): string {
  return `${TRAINING_QUEUE_ID_PREFIX}${queue}`;
}
