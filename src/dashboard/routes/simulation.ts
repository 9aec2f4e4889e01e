import { Hono } from 'hono';
import { simulationAggregates } from '../../db/dashboard/simulation-aggregates.js';
import { failedReplicates } from '../../db/dashboard/simulation-failures.js';
import { listSimulationJobs } from '../../db/dashboard/simulation-jobs.js';
import type { DashboardContext } from '../context.js';
import { webUiLink } from '../temporal.js';

// Simulation: jobs with live progress (done / total, rate, ETA), and per job the aggregates of
// every parameter set with their spread, plotted against the parameter values, plus the failed
// replicates with their error.

export function simulationRoutes(ctx: DashboardContext) {
  const link = (id: string | null) => (id ? webUiLink(ctx.uiUrl, ctx.namespace, id) : null);
  return new Hono()
    .get('/', async (c) => {
      const jobs = await listSimulationJobs(ctx.pool);
      return c.json({ live: jobs.some((j) => j.status === 'running'), jobs: jobs.map((j) => ({ ...j, link: link(j.workflowId) })) });
    })
    .get('/:job', async (c) => {
      const jobId = c.req.param('job');
      const [[job], aggregates, failures] = await Promise.all([
        listSimulationJobs(ctx.pool, { jobId, limit: 1 }),
        simulationAggregates(ctx.pool, jobId),
        failedReplicates(ctx.pool, jobId),
      ]);
      if (!job) return c.json({ error: `no simulation job ${jobId}` }, 404);
      const parameterNames = [...new Set(aggregates.flatMap((a) => Object.keys(a.parameters)))].sort();
      const fields = [...new Set(aggregates.flatMap((a) => Object.keys(a.aggregates)))].sort();
      return c.json({
        live: job.status === 'running',
        job: { ...job, link: link(job.workflowId) },
        parameterNames,
        fields,
        aggregates,
        failures,
      });
    });
}
