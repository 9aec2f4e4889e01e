// The experiment pipeline's workflow types, re-exported once from src/workflows/index.ts.
export { experimentBatch } from './experiment-batch.js';
export { experimentRun } from './experiment-run.js';
