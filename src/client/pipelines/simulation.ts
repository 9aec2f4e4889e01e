import { PIPELINE_ID, PIPELINE_KIND } from '../../shared/search-attributes.js';
import type { Client } from '@temporalio/client';
import { simulationJobSchema, type SimulationJobInput, type SimulationJobResult } from '../../shared/simulation/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import type { SimulationJobProgress } from '../../workflows/simulation/simulation-job.js';
import { InvalidInputError } from '../errors.js';
import { existingHandle, pipelineHandle, type PipelineHandle } from '../handle.js';
import { startOrExplain } from './start.js';

export const SIMULATION_JOB = 'simulationJob';
export type SimulationJobHandle = PipelineHandle<SimulationJobResult, SimulationJobProgress>;

export function workflowId(jobId: string): string {
  return `simulation-${jobId}`;
}

/** Validates (InvalidInputError naming the field) and starts a simulation job. */
export async function start(client: Client, input: SimulationJobInput, opts: { taskQueue?: string } = {}): Promise<SimulationJobHandle> {
  const parsed = simulationJobSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(`invalid simulation job: ${describeIssues(parsed.error)}`);
  const id = workflowId(parsed.data.jobId);
  const workflow = await startOrExplain(id, () =>
    client.workflow.start(SIMULATION_JOB, {
      workflowId: id,
      taskQueue: opts.taskQueue ?? process.env.SHEPHERD_TASK_QUEUE ?? 'shepherd',
      args: [input],
      typedSearchAttributes: [
        { key: PIPELINE_KIND, value: SIMULATION_JOB },
        { key: PIPELINE_ID, value: parsed.data.jobId },
      ],
      staticSummary: `simulation ${parsed.data.jobId} (${parsed.data.parameters.length} parameter sets × ${parsed.data.replicates} replicates)`,
    }),
  );
  return pipelineHandle(workflow, 'progress');
}

export function get(client: Client, jobId: string): SimulationJobHandle {
  return existingHandle(client, workflowId(jobId), 'progress');
}

export type { SimulationJobInput, SimulationJobResult, SimulationJobProgress };
