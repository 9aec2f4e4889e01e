import { simulationJobSchema, type SimulationJobResult } from '../../shared/simulation/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import { simulation } from '../../client/index.js';
import { InvalidInputError } from '../../client/errors.js';
import { outcomeHeadline } from '../../shared/outcome.js';
import type { SimulationJobProgress } from '../../workflows/simulation/simulation-job.js';
import type { PipelineAdapter } from './adapter.js';

export const simulationCli: PipelineAdapter<unknown, SimulationJobResult, SimulationJobProgress> = {
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
  progressLines: (p) => [
    `  stage: ${p.stage}`,
    ...p.parameters.map(
      (s) =>
        `  ${s.key}: ${s.status}, ${s.succeeded + s.failed}/${s.total} replicates (${s.failed} failed, ${s.running} running)${s.aggregated ? ', aggregated' : ''}`,
    ),
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
