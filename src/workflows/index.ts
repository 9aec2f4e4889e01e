export { experimentBatch } from './experiments/experiment-batch.js';
export { experimentRun } from './experiments/experiment-run.js';
export { conversationRun, conversationBatch, conversationMetrics } from './conversations/index.js';
export { trainingQueue } from './training/training-queue.js';
export { simulationJob } from './simulation/simulation-job.js';
export { parameterSweep } from './simulation/parameter-sweep.js';
export { analysisPipeline, appAnalysis } from './analysis/index.js';
export { workspaceCleanup } from './hygiene/workspace-cleanup.js';
