export { experimentBatch } from './experiment-batch.js';
export { experimentRun } from './experiment-run.js';
