import { Hono } from 'hono';
import { findingsSummary } from '../../db/dashboard/analysis-findings.js';
import type { DashboardContext } from '../context.js';

/** Findings per target, analyzer and severity, once the analysis pipeline's tables exist. */
export function analysisRoutes(ctx: DashboardContext) {
  return new Hono().get('/', async (c) => {
    const findings = await findingsSummary(ctx.pool);
    if (findings === null) return c.json({ error: 'the analysis pipeline has no tables in this database yet' }, 404);
    return c.json({ live: false, findings });
  });
}
