// The simulation pipeline's workflow types, re-exported once from src/workflows/index.ts.
export { simulationJob } from './simulation-job.js';
export { parameterSweep } from './parameter-sweep.js';
