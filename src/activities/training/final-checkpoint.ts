import type { CheckpointRef } from '../../shared/training/schemas.js';

// A worker can die after the trainer saved its last checkpoint (step N of N) but before the
// activity reported. The retry then resumes at step N: the trainer runs no step and reports no
// validation loss, although training is complete and the checkpoint carries its val loss. Such a
// resume is a completed job, with the metrics the final checkpoint recorded.

/** True when resuming from `ref` leaves no step to run. */
export function isFinalCheckpoint(ref: CheckpointRef, totalSteps: number): boolean {
  return ref.step >= totalSteps;
}

/** The job's metrics, as the trainer's result file would have given them, from its final checkpoint. */
export function metricsFromFinalCheckpoint(ref: CheckpointRef, totalSteps: number): Record<string, unknown> {
  return {
    step: ref.step,
    totalSteps,
    valLoss: ref.valLoss ?? null,
    valStep: ref.valLoss === null || ref.valLoss === undefined ? null : ref.step,
    checkpoint: ref.path,
    resumedFrom: ref.path,
    completedFromCheckpoint: true,
  };
}
