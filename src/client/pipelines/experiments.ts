import type { Client } from '@temporalio/client';
import type { ExperimentBatchInput, ExperimentBatchResult, ExperimentOutcome } from '../../shared/experiments/schemas.js';
import { experimentBatchWorkflowId, startExperimentBatch, type StartBatchOptions } from '../experiments.js';
import { existingHandle, pipelineHandle, type PipelineHandle } from '../handle.js';
import { startOrExplain } from './start.js';

export type ExperimentBatchHandle = PipelineHandle<ExperimentBatchResult, ExperimentOutcome[]>;

/** Validates (InvalidInputError naming the field) and starts an experiment batch. */
export async function start(client: Client, input: ExperimentBatchInput, opts: StartBatchOptions = {}): Promise<ExperimentBatchHandle> {
  const workflow = await startOrExplain(experimentBatchWorkflowId(String(input.batchId)), () => startExperimentBatch(client, input, opts));
  return pipelineHandle(workflow, 'progress');
}

export function get(client: Client, batchId: string): ExperimentBatchHandle {
  return existingHandle(client, experimentBatchWorkflowId(batchId), 'progress');
}

export { experimentBatchWorkflowId as workflowId };
export type { ExperimentBatchInput, ExperimentBatchResult, ExperimentOutcome };
