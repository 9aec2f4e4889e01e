import { Hono } from 'hono';
import { exportResults, loadResults } from '../../db/experiments/export.js';
import { listExperimentBatches } from '../../db/dashboard/experiment-batches.js';
import { metricAcrossBatches } from '../../db/dashboard/experiment-history.js';
import type { DashboardContext } from '../context.js';
import { webUiLink } from '../temporal.js';

// Experiments: the batches, one batch's sortable result table, a metric across its experiments
// and across every batch that ran the same experiments, failures with exit code / signal /
// stderr tail, and the CSV / JSON export (the same generator as the CLI's).

const PREFERRED = ['accuracy', 'f1', 'precision', 'recall'];

export function experimentRoutes(ctx: DashboardContext) {
  return new Hono()
    .get('/', async (c) => {
      const batches = await listExperimentBatches(ctx.pool);
      return c.json({
        live: batches.some((b) => b.status === 'running'),
        batches: batches.map((b) => ({ ...b, link: b.workflowId ? webUiLink(ctx.uiUrl, ctx.namespace, b.workflowId) : null })),
      });
    })
    .get('/:batch/export.:format{csv|json}', async (c) => {
      const batch = c.req.param('batch');
      const format = c.req.param('format') as 'csv' | 'json';
      const body = await exportResults(ctx.pool, batch, format);
      c.header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
      c.header('content-disposition', `attachment; filename="${batch.replace(/[^A-Za-z0-9._-]/g, '_')}.${format}"`);
      return c.body(body);
    })
    .get('/:batch', async (c) => {
      const batchId = c.req.param('batch');
      const [[batch = null], results] = await Promise.all([listExperimentBatches(ctx.pool, 1, batchId), loadResults(ctx.pool, batchId)]);
      if (!batch && results.length === 0) return c.json({ error: `no batch ${batchId}` }, 404);
      const metricNames = [
        ...new Set(
          results.flatMap((r) =>
            Object.entries(r.metrics)
              .filter(([, v]) => typeof v === 'number')
              .map(([k]) => k),
          ),
        ),
      ];
      metricNames.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
      const metric = c.req.query('metric') ?? metricNames[0] ?? null;
      const history = metric
        ? await metricAcrossBatches(
            ctx.pool,
            results.map((r) => r.experiment),
            metric,
          )
        : [];
      return c.json({
        live: batch?.status === 'running',
        batch: batch && { ...batch, link: batch.workflowId ? webUiLink(ctx.uiUrl, ctx.namespace, batch.workflowId) : null },
        metric,
        metricNames,
        results: results.map((r) => ({
          experiment: r.experiment,
          status: r.status,
          metrics: r.metrics,
          params: r.params,
          attempt: r.attempt,
          durationMs: r.durationMs,
          exitCode: r.exitCode,
          error: r.error,
          failure: r.status === 'succeeded' ? null : pickFailure(r.failure),
          link: r.workflowId ? webUiLink(ctx.uiUrl, ctx.namespace, r.workflowId, r.runId ?? undefined) : null,
        })),
        history,
      });
    });
}

const rank = (m: string) => (PREFERRED.includes(m) ? PREFERRED.indexOf(m) : PREFERRED.length);

function pickFailure(
  f: unknown,
): { exitCode: number | null; signal: string | null; stderrTail: string | null; possibleOom: boolean } | null {
  if (!f || typeof f !== 'object') return null;
  const o = f as Record<string, unknown>;
  return {
    exitCode: typeof o.exitCode === 'number' ? o.exitCode : null,
    signal: typeof o.signal === 'string' ? o.signal : null,
    stderrTail: Array.isArray(o.stderrTail)
      ? o.stderrTail.join('\n').slice(-4000)
      : typeof o.stderrTail === 'string'
        ? o.stderrTail.slice(-4000)
        : null,
    possibleOom: o.possibleOomKill === true,
  };
}
