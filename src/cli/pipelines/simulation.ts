import type { Client } from '@temporalio/client';
import { simulationJobSchema, type SimulationJobResult } from '../../shared/simulation/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import { simulation } from '../../client/index.js';
import { InvalidInputError } from '../../client/errors.js';
import { outcomeHeadline } from '../../shared/outcome.js';
import type { SimulationJobProgress } from '../../workflows/simulation/simulation-job.js';
import type { PipelineAdapter } from './adapter.js';
import { pendingStepLiveness, silenceLine } from '../../client/step-liveness.js';
import { simulationJobWorkflowId, sweepWorkflowId } from '../../shared/simulation/workflow-ids.js';

/** A job's progress plus, per parameter set, what its silentest running replicate's heartbeat said. */
type Progress = SimulationJobProgress & { silences?: Record<string, string[]> };

/** "replicate 17: no output for 2m" for each running sweep's replicate batch whose silentest replicate is notably quiet. */
async function silencesOf(client: Client, jobId: string, p: SimulationJobProgress): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  // Not `running > 0`: the job learns its sweeps' counts by budgeted signals, so they lag.
  for (const set of p.parameters.filter((s) => s.status === 'running')) {
    const steps = await pendingStepLiveness(client, sweepWorkflowId(jobId, set.key));
    const lines = steps.map(silenceLine).filter((l): l is string => l !== null);
    if (lines.length) out[set.key] = lines;
  }
  return out;
}

export const simulationCli: PipelineAdapter<unknown, SimulationJobResult, Progress> = {
  name: 'simulation',
  noun: 'job',
  validate(raw) {
    const parsed = simulationJobSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidInputError(`invalid simulation job: ${describeIssues(parsed.error)}`);
    const d = parsed.data;
    return { id: d.jobId, summary: `${d.parameters.length} parameter sets × ${d.replicates} replicates, job ${d.jobId}`, input: raw };
  },
  start: (client, input, taskQueue) => simulation.start(client, input as never, { taskQueue }),
  get: (client, id) => simulation.get(client, id),
  async enrich(client, handle, p) {
    const jobId = handle.workflowId.slice(simulationJobWorkflowId('').length);
    return { ...p, silences: await silencesOf(client, jobId, p) };
  },
  progressLines: (p) => [
    `  stage: ${p.stage}`,
    ...p.parameters.flatMap((s) => [
      `  ${s.key}: ${s.status}, ${s.succeeded + s.failed}/${s.total} replicates (${s.failed} failed, ${s.running} running)${s.aggregated ? ', aggregated' : ''}`,
      ...(p.silences?.[s.key] ?? []).map((l) => `    ${l}`),
    ]),
  ],
  counts: (p) => ({
    done: p.totals.succeeded + p.totals.failed,
    total: p.totals.replicates,
    failed: p.totals.failed,
    detail: `${p.totals.running} running, ${p.totals.aggregated}/${p.totals.parameters} aggregated`,
  }),
  resultLines(r) {
    const failed = r.parameters.filter((p) => p.status === 'failed');
    return [
      outcomeHeadline(r.status, r.parameters.length - failed.length, failed.length, 'parameter sets'),
      `${r.totals.succeeded}/${r.totals.replicates} replicates succeeded, ${r.totals.failed} failed, in ${(r.durationMs / 1000).toFixed(1)} s`,
      ...r.parameters.map((p) => `  ${p.key}: ${p.status}${p.error ? `: ${p.error}` : ''}`),
    ];
  },
  outcome: (r) => r.status,
};
