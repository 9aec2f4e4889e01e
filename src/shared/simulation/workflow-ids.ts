// Workflow type names and IDs of the simulation pipeline.

export const SIMULATION_JOB = 'simulationJob';
export const PARAMETER_SWEEP = 'parameterSweep';

export function simulationJobWorkflowId(jobId: string): string {
  return `simulation-${jobId}`;
}

/** The sweep of one parameter set: one execution per (job, parameter key), whoever starts it. */
export function sweepWorkflowId(jobId: string, parameterKey: string): string {
  return `simulation-${jobId}-${parameterKey}`;
}
