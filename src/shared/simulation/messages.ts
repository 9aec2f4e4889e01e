import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { EnvironmentReport, SweepProgress } from './schemas.js';

export interface SimulationJobProgress {
  jobId: string;
  stage: string;
  environment?: EnvironmentReport;
  totals: { parameters: number; replicates: number; succeeded: number; failed: number; running: number; aggregated: number };
  parameters: SweepProgress[];
}

/** Per parameter set: replicates done / failed / running and whether aggregation ran. */
export const simulationProgressQuery = defineQuery<SimulationJobProgress>('progress');

/** The sweep's own progress (also reported to its job by signal). */
export const sweepProgressQuery = defineQuery<SweepProgress>('progress');
/** Sent by a sweep to its job; bounded by progressSignalBudget so the job's history stays small. */
export const sweepProgressSignal = defineSignal<[SweepProgress]>('sweepProgress');
