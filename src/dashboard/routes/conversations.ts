import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Hono } from 'hono';
import { recommendTimeouts, stepMetrics } from '../../db/conversations/step-metrics.js';
import { latestInput } from '../../client/conversations.js';
import { parseDefinitionText } from '../../config/input-file.js';
import { itemAuditLog, recentItems } from '../../db/dashboard/conversation-audit.js';
import { conversationDefinitions } from '../../db/dashboard/conversation-definitions.js';
import { conversationFailures } from '../../db/dashboard/conversation-failures.js';
import { conversationLatency } from '../../db/dashboard/conversation-latency.js';
import { conversationThroughput } from '../../db/dashboard/conversation-throughput.js';
import { assertValidDefinition } from '../../shared/conversations/definition-validator.js';
import type { DashboardContext } from '../context.js';
import { listExecutions, webUiLink } from '../temporal.js';

// Conversations: throughput per hour, p50/p95/p99 per step and model over time, the timeout
// recommendations next to the configured timeouts (the same computation as
// `shepherd conversations recommend`), failures by type, and one item's audit log.

/** The definition the newest batch of this name ran with (its latest run's input). */
async function definitionOf(ctx: DashboardContext, name: string) {
  const [batch] = await listExecutions(ctx.client, {
    query: `WorkflowType = 'conversationBatch' AND Target = '${name.replace(/'/g, "''")}'`,
    limit: 1,
  });
  if (!batch) return null;
  const input = await latestInput(ctx.client.workflow.getHandle(batch.workflowId));
  if (input.definition) return assertValidDefinition(input.definition);
  if (!input.definitionFile) return null;
  const file = path.resolve(ctx.projectDir, input.definitionFile);
  if (!file.startsWith(ctx.projectDir + path.sep)) return null;
  return assertValidDefinition(parseDefinitionText(await readFile(file, 'utf8'), file));
}

export function conversationRoutes(ctx: DashboardContext) {
  return new Hono()
    .get('/', async (c) => {
      const [definitions, throughput] = await Promise.all([conversationDefinitions(ctx.pool), conversationThroughput(ctx.pool)]);
      return c.json({ live: false, definitions, throughput });
    })
    .get('/:definition', async (c) => {
      const name = c.req.param('definition');
      const [latency, metrics, failures, items, throughput] = await Promise.all([
        conversationLatency(ctx.pool, name),
        // The last day: the live view. Recommendations below use the CLI's window (7 days).
        stepMetrics(ctx.pool, { definition: name, days: 1 }),
        conversationFailures(ctx.pool, name),
        recentItems(ctx.pool, name),
        conversationThroughput(ctx.pool, 24, name),
      ]);
      let recommendations = null;
      let recommendationError: string | null = null;
      try {
        const def = await definitionOf(ctx, name);
        recommendations = def ? await recommendTimeouts(ctx.pool, def) : null;
        if (!def) recommendationError = `no conversation batch of ${name} is known to Temporal, so its configured timeouts are unknown`;
      } catch (err) {
        recommendationError = (err as Error).message;
      }
      return c.json({
        live: false,
        definition: name,
        throughput,
        latency,
        metrics,
        recommendations,
        recommendationError,
        failures,
        items,
      });
    })
    .get('/:definition/items/:item', async (c) => {
      const entries = await itemAuditLog(ctx.pool, c.req.param('definition'), c.req.param('item'));
      return c.json({
        live: false,
        definition: c.req.param('definition'),
        item: c.req.param('item'),
        entries: entries.map((e) => ({ ...e, link: webUiLink(ctx.uiUrl, ctx.namespace, e.workflowId, e.runId) })),
      });
    });
}
