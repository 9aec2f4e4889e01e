// The `shepherd/client` package: typed starters and handles for every pipeline, for the CLI and
// for other services (`import { connect, experiments } from 'shepherd/client'`).
//
//   const { client, close } = await connect();               // TEMPORAL_ADDRESS / temporal.toml
//   const batch = await experiments.start(client, { batchId: 'b1', experiments: [...] });
//   const result = await batch.result();                     // typed ExperimentBatchResult
//   if (result.status !== 'completed') ...                   // see Outcome below
//   await close();

export { connect, type ShepherdConnection } from './connect.js';
// For a service that builds its own Client: payload encryption from SHEPHERD_ENCRYPTION_* (connect() applies it).
export { clientDataConverter } from '../codec/data-converter.js';
export {
  ShepherdError,
  InvalidInputError,
  AlreadyRunningError,
  NotFoundError,
  ServerUnreachableError,
  PipelineFailedError,
} from './errors.js';
export type { PipelineHandle, PipelineDescription } from './handle.js';
export { batchResult, allFailedSummary } from './outcome.js';
export { decideOutcome, outcomeHeadline, ALL_ITEMS_FAILED, type Outcome } from '../shared/outcome.js';

export * as experiments from './pipelines/experiments.js';
export * as simulation from './pipelines/simulation.js';
export * as training from './pipelines/training.js';
export * as conversations from './pipelines/conversations.js';

export type { ExperimentBatchHandle, ExperimentBatchInput, ExperimentBatchResult, ExperimentOutcome } from './pipelines/experiments.js';
export type { SimulationJobHandle, SimulationJobInput, SimulationJobResult, SimulationJobProgress } from './pipelines/simulation.js';
export type {
  TrainingQueueHandle,
  TrainingJobInput,
  TrainingQueueInput,
  TrainingQueueResult,
  QueueStatus,
  EnqueueResult,
} from './pipelines/training.js';
export type {
  ConversationBatchHandle,
  ConversationBatchInput,
  ConversationBatchResult,
  ConversationBatchProgress,
} from './pipelines/conversations.js';
export { cleanWorkspacesNow } from './workspaces.js';
export type { RetentionPolicy, WorkspaceCleanupInput, WorkspaceCleanupReport } from '../shared/hygiene/schemas.js';
