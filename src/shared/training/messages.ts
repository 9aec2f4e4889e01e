import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { QueueStatus } from './queue-state.js';
import type { TrainingJob, TrainingJobInput, TrainingProgress } from './schemas.js';

export interface EnqueueResult {
  jobId: string;
  instance: string;
  position: number;
  /** What will run: the job with every default filled in. */
  effectiveConfig: TrainingJob;
}

export const enqueueUpdate = defineUpdate<EnqueueResult, [TrainingJobInput]>('enqueue');
export const pauseUpdate = defineUpdate<QueueStatus, [{ reason?: string } | undefined]>('pause');
export const resumeUpdate = defineUpdate<QueueStatus, []>('resume');
export const stopUpdate = defineUpdate<QueueStatus, []>('stop');
export const cancelCurrentUpdate = defineUpdate<QueueStatus, []>('cancelCurrent');
export const removeUpdate = defineUpdate<QueueStatus, [string | { jobId: string }]>('remove');
/** The queue's state under the name every pipeline answers: `progress`. */
export const trainingProgressQuery = defineQuery<QueueStatus>('progress');
/** The same answer under the name it first had; kept because external callers may use it. */
export const statusQuery = defineQuery<QueueStatus>('status');
/** Sent by the trainModel activity as the trainer reports steps, evaluations and checkpoints. */
export const progressSignal = defineSignal<[TrainingProgress]>('trainingProgress');
