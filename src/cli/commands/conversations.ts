import path from 'node:path';
import type { Command } from 'commander';
import { listAttempts } from '../../db/conversations/attempts.js';
import { applyTimeoutRecommendations, recommendTimeouts, stepMetrics } from '../../db/conversations/step-metrics.js';
import { knownModels } from '../../db/model-slots.js';
import { formatSummaryTable } from '../../shared/summary-table.js';
import { conversationBatchWorkflowId, conversationProgress, retryFailedItems, startConversationBatch } from '../../client/conversations.js';
import { ensureConversationMetricsSchedule } from '../../client/schedules.js';
import type { ConversationBatchInput, ConversationBatchResult } from '../../shared/conversations/schemas.js';
import { readDefinitionFile } from '../../config/input-file.js';
import { loadEnv } from '../../config/env.js';
import { createLogger } from '../../config/logger.js';
import { loadModelRegistry } from '../../config/models.js';
import { formatIssues, validateDefinition } from '../../shared/conversations/definition-validator.js';
import { openExistingDatabase } from '../../db/open-existing.js';
import { withClient } from '../context.js';

// `shepherd conversations ...`: validate definitions, run and retry batches, read the audit log,
// latency metrics and timeout recommendations.

async function withDatabase<T>(fn: (pool: Awaited<ReturnType<typeof openExistingDatabase>>['pool']) => Promise<T>): Promise<T> {
  const env = loadEnv();
  const db = await openExistingDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir, logger: createLogger('warn') });
  try {
    return await fn(db.pool);
  } finally {
    await db.close();
  }
}

const batchWorkflowId = (idOrBatch: string) =>
  idOrBatch.startsWith('conversation-batch-') ? idOrBatch : conversationBatchWorkflowId(idOrBatch);

export function registerConversationCommands(program: Command): void {
  const conv = program
    .command('conversations')
    .alias('conv')
    .description('LLM conversation workflows (definitions, batches, audit log, metrics)');

  conv
    .command('validate')
    .description('check a conversation definition statically: actors, routes, reachability, templates, terminal step')
    .argument('<definition>', 'definition file (JSON or YAML)')
    .option('--models', 'also check llm models against SHEPHERD_MODELS(_FILE) and the models workers announced')
    .action(async (file: string, opts: { models?: boolean }) => {
      let known: string[] | undefined;
      if (opts.models) {
        known = Object.keys(loadModelRegistry().models);
        known.push(...(await withDatabase((pool) => knownModels(pool)).catch(() => [])));
      }
      const v = validateDefinition(readDefinitionFile(file), { knownModels: known });
      if (!v.ok) {
        console.error(`${file}: invalid\n${v.issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`);
        process.exitCode = 1;
        return;
      }
      console.log(`${file}: valid (${v.definition.name}, ${v.definition.steps.length} steps, start '${v.definition.start}')`);
    });

  conv
    .command('run')
    .description('start a conversation batch and wait for it')
    .argument('<file>', 'batch input JSON (see examples/conversations/batch.json)')
    .option('-d, --detach', 'start and return without waiting')
    .action(async (file: string, opts: { detach?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client, g) => {
        const handle = await startConversationBatch(client, readDefinitionFile(file) as ConversationBatchInput, { taskQueue: g.taskQueue });
        console.log(`started ${handle.workflowId}`);
        if (opts.detach) return;
        const result = (await handle.result()) as ConversationBatchResult;
        console.log(result.message);
        if (result.failedItems.length > 0)
          console.log(formatSummaryTable(result.failedItems.map((f) => ({ item: f.key, step: f.step, error: f.error }))));
        if (result.failed > 0) process.exitCode = 1;
      });
    });

  conv
    .command('status')
    .description('progress of a running conversation batch')
    .argument('<batch>', 'batch id or workflow id')
    .action(async (batch: string, _o: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const handle = client.workflow.getHandle(batchWorkflowId(batch));
        const desc = await handle.describe();
        console.log(`${handle.workflowId}: ${desc.status.name}`);
        if (desc.status.name === 'RUNNING') console.log(JSON.stringify(await conversationProgress(handle), null, 2));
      });
    });

  conv
    .command('retry')
    .description("retry a batch's failed items: signals an open batch, or starts a new one over them")
    .argument('<batch>', 'batch id or workflow id')
    .option('--item <key...>', 'only these item keys')
    .action(async (batch: string, opts: { item?: string[] }, cmd: Command) => {
      await withClient(cmd, async (client, g) => {
        const r = await retryFailedItems(client, batchWorkflowId(batch), { keys: opts.item, taskQueue: g.taskQueue });
        console.log(
          r.mode === 'signalled'
            ? `signalled ${r.workflowId} to retry its failed items`
            : `started ${r.workflowId} over ${r.items} failed item(s)`,
        );
      });
    });

  conv
    .command('audit')
    .description('every attempt of every step for an item or a run, from the audit log')
    .option('--workflow <id>', 'a conversationRun workflow id')
    .option('--batch <id>', 'a batch id')
    .option('--item <key>', 'an item key')
    .action(async (opts: { workflow?: string; batch?: string; item?: string }) => {
      const rows = await withDatabase((pool) => listAttempts(pool, { workflowId: opts.workflow, batchId: opts.batch, itemKey: opts.item }));
      console.log(
        formatSummaryTable(
          rows.map((r) => ({
            item: r.item_key,
            step: r.step,
            attempt: r.attempt,
            actor: r.actor,
            status: r.status,
            ms: r.latency_ms,
            error: r.error,
          })),
          { maxCellWidth: 60 },
        ),
      );
    });

  conv
    .command('metrics')
    .description('count, failure rate and p50/p95/p99 latency per step and model, from the audit log')
    .option('--definition <name>')
    .option('--days <n>', 'look-back window', '7')
    .action(async (opts: { definition?: string; days: string }) => {
      const rows = await withDatabase((pool) => stepMetrics(pool, { definition: opts.definition, days: Number(opts.days) }));
      console.log(
        formatSummaryTable(
          rows.map((m) => ({
            definition: m.definition,
            step: m.step,
            actor: m.actor,
            n: m.attempts,
            fail: m.failureRate,
            p50_s: sec(m.p50Ms),
            p95_s: sec(m.p95Ms),
            p99_s: sec(m.p99Ms),
          })),
        ),
      );
    });

  conv
    .command('recommend')
    .description('compare each step timeout with max(2 x p99, floor) of its measured latency; --apply writes them')
    .argument('<definition>', 'definition file (JSON or YAML)')
    .option('--days <n>', 'look-back window', '7')
    .option('--floor <seconds>', 'smallest timeout to recommend', '5')
    .option('--apply', 'write the recommended timeouts of steps flagged too tight or too loose into the file')
    .action(async (file: string, opts: { days: string; floor: string; apply?: boolean }) => {
      const v = validateDefinition(readDefinitionFile(file));
      if (!v.ok) throw new Error(`${file}: ${formatIssues(v.issues)}`);
      const recs = await withDatabase((pool) =>
        recommendTimeouts(pool, v.definition, { days: Number(opts.days), floorMs: Number(opts.floor) * 1000 }),
      );
      console.log(
        formatSummaryTable(
          recs.map((r) => ({
            step: r.step,
            configured: r.configured,
            samples: r.samples,
            timed_out: r.timedOut,
            p99_s: sec(r.p99Ms),
            recommended: r.recommended,
            verdict: r.verdict,
          })),
        ),
      );
      if (opts.apply) {
        const changed = await applyTimeoutRecommendations(path.resolve(file), recs);
        console.log(changed.length > 0 ? `updated ${file}: ${changed.join(', ')}` : 'nothing to change');
      }
    });

  conv
    .command('schedule')
    .description('create (or update) the daily Schedule that refreshes conversation_metrics')
    .option('--hour <utc>', 'hour of day, UTC', '3')
    .action(async (opts: { hour: string }, cmd: Command) => {
      await withClient(cmd, async (client, g) => {
        const r = await ensureConversationMetricsSchedule(client, { taskQueue: g.taskQueue, hour: Number(opts.hour) });
        console.log(`conversation metrics schedule ${r}`);
      });
    });
}

function sec(ms: number | null): number | undefined {
  return ms === null ? undefined : Math.round(ms / 10) / 100;
}
