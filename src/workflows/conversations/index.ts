// The conversation pipeline's workflow types, re-exported once from src/workflows/index.ts.
export { conversationRun } from './conversation-run.js';
export { conversationBatch } from './conversation-batch.js';
export { conversationMetrics } from './conversation-metrics.js';
