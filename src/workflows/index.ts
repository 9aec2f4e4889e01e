export { experimentBatch } from './experiment-batch.js';
export { experimentRun } from './experiment-run.js';
export { conversationRun, conversationBatch, conversationMetrics } from './conversations.js';
export { trainingQueue } from './training-queue.js';
export { simulationJob } from './simulation-job.js';
export { parameterSweep } from './parameter-sweep.js';
export { analysisPipeline, appAnalysis } from './analysis/index.js';
