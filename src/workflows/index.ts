import { lazyWorkflow } from './lazy-workflow.js';

// Every workflow type of the bundle. Each pipeline's modules load when one of its workflows
// starts (see lazy-workflow.ts); the types are those of the pipelines' own functions.
const experiments = () => import('./experiments/index.js');
const conversations = () => import('./conversations/index.js');
const simulation = () => import('./simulation/index.js');
const analysis = () => import('./analysis/index.js');

export const experimentBatch = lazyWorkflow(experiments, 'experimentBatch');
export const experimentRun = lazyWorkflow(experiments, 'experimentRun');
export const conversationRun = lazyWorkflow(conversations, 'conversationRun');
export const conversationBatch = lazyWorkflow(conversations, 'conversationBatch');
export const conversationMetrics = lazyWorkflow(conversations, 'conversationMetrics');
export const trainingQueue = lazyWorkflow(() => import('./training/training-queue.js'), 'trainingQueue');
export const simulationJob = lazyWorkflow(simulation, 'simulationJob');
export const parameterSweep = lazyWorkflow(simulation, 'parameterSweep');
export const analysisPipeline = lazyWorkflow(analysis, 'analysisPipeline');
export const appAnalysis = lazyWorkflow(analysis, 'appAnalysis');
export const workspaceCleanup = lazyWorkflow(() => import('./hygiene/workspace-cleanup.js'), 'workspaceCleanup');
