import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { batchProgress, experimentBatchWorkflowId, startExperimentBatch, type ExperimentBatchResult } from '../../client/experiments.js';
import { experimentBatchSchema } from '../../shared/experiments/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import { loadEnv } from '../../config/env.js';
import { createLogger } from '../../config/logger.js';
import { exportResults } from '../../db/experiments/export.js';
import { openExistingDatabase } from '../../db/open-existing.js';
import { withClient } from '../context.js';
import { renderProgress, renderResultTable, watchProgress } from '../progress-view.js';
import { readDefinitionFile as readInputFile } from '../../config/input-file.js';

export function registerExperimentCommands(program: Command): void {
  program
    .command('validate')
    .description('validate an experiment batch file without running it')
    .argument('<file>', 'batch input JSON')
    .action((file: string) => {
      const parsed = experimentBatchSchema.safeParse(readInputFile(file));
      if (!parsed.success) throw new Error(`${file}: ${describeIssues(parsed.error)}`);
      console.log(`${file}: valid (${parsed.data.experiments.length} experiments, batch ${parsed.data.batchId})`);
    });

  program
    .command('run')
    .description('start an experiment batch and follow its progress')
    .argument('<file>', 'batch input JSON (see examples/experiments)')
    .option('-d, --detach', 'start and return the workflow ID without waiting')
    .action(async (file: string, opts: { detach?: boolean }, cmd: Command) => {
      const input = readInputFile(file);
      await withClient(cmd, async (client, g) => {
        const handle = await startExperimentBatch(client, input, { taskQueue: g.taskQueue });
        console.log(`started ${handle.workflowId}`);
        if (opts.detach) return;
        const result = handle.result() as Promise<ExperimentBatchResult>;
        await watchProgress(() => batchProgress(handle), result);
        const final = await result;
        console.log(`\n${final.status}: ${final.succeeded} succeeded, ${final.failed} failed\n`);
        console.log(renderResultTable(final.experiments));
        if (final.status !== 'completed') process.exitCode = 1;
      });
    });

  program
    .command('status')
    .description('show the progress of an experiment batch')
    .argument('<batchId>')
    .action(async (batchId: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const handle = client.workflow.getHandle(experimentBatchWorkflowId(batchId));
        const desc = await handle.describe();
        console.log(`${handle.workflowId}: ${desc.status.name}`);
        console.log(renderProgress(await batchProgress(handle)).join('\n'));
      });
    });

  program
    .command('watch')
    .description('follow a running experiment batch until it ends')
    .argument('<batchId>')
    .action(async (batchId: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const handle = client.workflow.getHandle(experimentBatchWorkflowId(batchId));
        const result = handle.result() as Promise<ExperimentBatchResult>;
        await watchProgress(() => batchProgress(handle), result);
        console.log(renderResultTable((await result).experiments));
      });
    });

  program
    .command('cancel')
    .description('cancel an experiment batch (kills its running steps)')
    .argument('<batchId>')
    .action(async (batchId: string, _opts: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await client.workflow.getHandle(experimentBatchWorkflowId(batchId)).cancel();
        console.log(`cancellation requested for ${experimentBatchWorkflowId(batchId)}`);
      });
    });

  program
    .command('export')
    .description("export a batch's results from PostgreSQL (DATABASE_URL, or the embedded database)")
    .argument('<batchId>')
    .option('-f, --format <format>', 'csv or json', 'csv')
    .option('-o, --out <file>', 'write to a file instead of stdout')
    .action(async (batchId: string, opts: { format: string; out?: string }) => {
      if (opts.format !== 'csv' && opts.format !== 'json') throw new Error(`--format must be csv or json, not "${opts.format}"`);
      const env = loadEnv();
      const db = await openExistingDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir, logger: createLogger('warn') });
      try {
        const text = await exportResults(db.pool, batchId, opts.format);
        if (opts.out) writeFileSync(opts.out, text);
        else process.stdout.write(text);
      } finally {
        await db.close();
      }
    });
}
