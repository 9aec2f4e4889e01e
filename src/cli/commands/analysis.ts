import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { formatSummaryTable } from '../../shared/summary-table.js';
import {
  analysisHandle,
  startAnalysisPipeline,
  type AnalysisPipelineResult,
  type AnalysisProgress,
  type BreakerTarget,
} from '../../client/analysis.js';
import { readDefinitionFile } from '../../config/input-file.js';
import { loadEnv } from '../../config/env.js';
import { createLogger } from '../../config/logger.js';
import { openDatabase } from '../../db/open.js';
import { listFindings, listTargets, summarizeFindings } from '../../db/analysis/targets.js';
import type { AnalysisPipelineInput } from '../../shared/analysis/input.js';
import { withClient } from '../context.js';

// `shepherd analysis run|status|findings|cancel|reset`: the code-analysis pipeline (seed 003).

async function withDatabase<T>(fn: (pool: Awaited<ReturnType<typeof openDatabase>>['pool']) => Promise<T>): Promise<T> {
  const env = loadEnv();
  const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir, logger: createLogger('warn') });
  try {
    return await fn(db.pool);
  } finally {
    await db.close();
  }
}

function targetTable(p: Pick<AnalysisProgress, 'targets'>): string {
  return formatSummaryTable(
    p.targets.map((t) => ({
      target: `${t.model}/${t.app}`,
      status: t.status,
      findings: t.findings,
      analyzers: t.analyzers.map((a) => `${a.analyzer}:${a.status}`).join(' '),
      reason: t.reason,
    })),
    { maxCellWidth: 70 },
  );
}

function breakerLines(p: Pick<AnalysisProgress, 'breakers'>): string {
  const b = p.breakers;
  return [
    `pipeline breaker: ${b.pipeline.state} (${b.pipeline.consecutiveFailedTargets}/${b.pipeline.threshold} consecutive failed targets)`,
    ...b.analyzers.map(
      (a) =>
        `${a.analyzer} breaker: ${a.state} (${a.consecutiveFailures} consecutive failures${a.lastFailure ? `; last: ${a.lastFailure.slice(0, 100)}` : ''})`,
    ),
  ].join('\n');
}

export function printResult(r: AnalysisPipelineResult): void {
  const c = r.counts;
  console.log(
    `\n${r.status}: ${c.completed} completed, ${c.partial} partial, ${c.failed} failed, ${c.skipped} skipped, ${c.cancelled} cancelled; ${r.findings} findings\n`,
  );
  console.log(targetTable(r));
  console.log(`\n${breakerLines(r)}`);
}

/** An all-failed pipeline fails its workflow; its result travels in the failure's details. */
export function resultOf(err: unknown): AnalysisPipelineResult | undefined {
  const details = err instanceof WorkflowFailedError ? (err.cause as { details?: unknown[] } | undefined)?.details : undefined;
  const d = details?.[0] as AnalysisPipelineResult | undefined;
  return d && typeof d === 'object' && 'counts' in d ? d : undefined;
}

export function registerAnalysisCommands(program: Command): void {
  const analysis = program
    .command('analysis')
    .description('code-analysis pipelines: build and run apps in containers, run analyzers, store findings');

  analysis
    .command('run')
    .description('start (or attach to) an analysis pipeline and wait for its summary')
    .argument('<file>', 'pipeline input, JSON or YAML (see examples/analysis)')
    .option('-d, --detach', 'start and return the workflow ID without waiting')
    .action(async (file: string, opts: { detach?: boolean }, cmd: Command) => {
      const input = readDefinitionFile(file) as AnalysisPipelineInput;
      await withClient(cmd, async (client, g) => {
        const handle = await startAnalysisPipeline(client, input, { taskQueue: g.taskQueue });
        console.log(`started ${handle.workflowId}`);
        if (opts.detach) return;
        try {
          const r = await handle.result();
          printResult(r);
          if (r.status !== 'completed') process.exitCode = 1;
        } catch (err) {
          const r = resultOf(err);
          if (!r) throw err;
          printResult(r);
          process.exitCode = 1;
        }
      });
    });

  analysis
    .command('status')
    .description('targets, analyzer outcomes and breakers of a pipeline (live from the workflow)')
    .argument('<pipeline>', 'pipeline id or workflow id')
    .action(async (pipeline: string, _o: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const handle = analysisHandle(client, pipeline);
        const desc = await handle.raw.describe();
        console.log(`${handle.workflowId}: ${desc.status.name}`);
        const p = await handle.progress();
        console.log(`stage: ${p.stage}\n`);
        console.log(targetTable(p));
        console.log(`\n${breakerLines(p)}`);
      });
    });

  analysis
    .command('findings')
    .description("a pipeline's stored findings from PostgreSQL: counts per target/analyzer/severity, or the findings with --list")
    .argument('<pipeline>', 'pipeline id')
    .option('--list', 'list the findings themselves')
    .option('--model <model>')
    .option('--app <app>')
    .option('--analyzer <name>')
    .option('--min-severity <level>', 'critical, high, medium, low or info')
    .option('--limit <n>', 'at most this many findings with --list', '200')
    .option('--json', 'print JSON instead of a table')
    .action(
      async (
        pipeline: string,
        opts: { list?: boolean; model?: string; app?: string; analyzer?: string; minSeverity?: string; limit: string; json?: boolean },
      ) => {
        const levels = ['critical', 'high', 'medium', 'low', 'info'];
        if (opts.minSeverity && !levels.includes(opts.minSeverity))
          throw new Error(`--min-severity must be one of ${levels.join(', ')}, not "${opts.minSeverity}"`);
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit must be a positive integer, not "${opts.limit}"`);
        await withDatabase(async (pool) => {
          if (opts.list) {
            const rows = await listFindings(pool, pipeline, {
              model: opts.model,
              app: opts.app,
              analyzer: opts.analyzer,
              minSeverity: opts.minSeverity as never,
              limit,
            });
            console.log(opts.json ? JSON.stringify(rows, null, 2) : formatSummaryTable(rows as never, { maxCellWidth: 60 }));
            return;
          }
          const [targets, counts] = await Promise.all([listTargets(pool, pipeline), summarizeFindings(pool, pipeline)]);
          if (targets.length === 0 && counts.length === 0)
            throw new Error(`no analysis targets or findings stored for pipeline "${pipeline}"`);
          if (opts.json) {
            console.log(JSON.stringify({ targets, findings: counts }, null, 2));
            return;
          }
          console.log(
            formatSummaryTable(
              targets.map((t) => ({ target: `${t.model}/${t.app}`, status: t.status, findings: t.findings, reason: t.reason })),
              { maxCellWidth: 70 },
            ),
          );
          if (counts.length)
            console.log(
              `\n${formatSummaryTable(counts.map((c) => ({ target: `${c.model}/${c.app}`, analyzer: c.analyzer, severity: c.severity, count: c.count })))}`,
            );
        });
      },
    );

  analysis
    .command('reset')
    .description('reset a breaker of a running pipeline: pipeline, all, or an analyzer name')
    .argument('<pipeline>', 'pipeline id or workflow id')
    .argument('<breaker>', 'pipeline | all | static | dynamic | performance | ai-review')
    .action(async (pipeline: string, breaker: string, _o: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const r = await analysisHandle(client, pipeline).resetBreaker(breaker as BreakerTarget);
        console.log(`reset: ${r.reset.join(', ')}\n${breakerLines(r)}`);
      });
    });

  analysis
    .command('cancel')
    .description('cancel a pipeline (each target stops its analyzers, then its app container)')
    .argument('<pipeline>', 'pipeline id or workflow id')
    .action(async (pipeline: string, _o: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const handle = analysisHandle(client, pipeline);
        await handle.cancel();
        console.log(`cancellation requested for ${handle.workflowId}`);
      });
    });
}
