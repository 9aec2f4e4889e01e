import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { startDevServer } from '../scripts/lib/dev-server.js';
import type { BenchContext } from './context.js';
import { activityLatencies, fetchHistory, stepIntervals } from './history-latency.js';
import { fmt, ratio, summarize, type LatencySummary } from './stats.js';

const STEPS = Number(process.env.BENCH_STEPS ?? 200);
const name = 'latency';

interface StepFigures {
  activity: LatencySummary;
  step: LatencySummary;
}

/** n sequential no-op activities: scheduled → completed per activity, and completed → completed per step. */
async function sequential(client: Client, taskQueue: string, activity: string, arg: unknown, n = STEPS): Promise<StepFigures> {
  const workflowId = `bench-latency-${activity}-${randomUUID().slice(0, 6)}`;
  await client.workflow.execute('benchSequence', { taskQueue, workflowId, args: [activity, n, arg] });
  const history = await fetchHistory(client, workflowId);
  return { activity: summarize(activityLatencies(history)), step: summarize(stepIntervals(history)) };
}

/** The bare SDK on the dev server exactly as `temporal server start-dev` configures it. */
async function untunedBaseline(ctx: BenchContext, workflowBundle: { code: string }): Promise<StepFigures> {
  const server = await startDevServer({ tuned: false, logFile: path.join(ctx.workDir, 'temporal-untuned.log') });
  const connection = await NativeConnection.connect({ address: server.address });
  const clientConnection = await Connection.connect({ address: server.address });
  const client = new Client({ connection: clientConnection });
  const worker = await Worker.create({
    connection,
    taskQueue: 'bench-untuned',
    workflowBundle,
    activities: { noop: async () => undefined },
  });
  try {
    return await worker.runUntil(async () => {
      await sequential(client, 'bench-untuned', 'noop', null, 20);
      return sequential(client, 'bench-untuned', 'noop', null);
    });
  } finally {
    await clientConnection.close();
    await connection.close();
    await server.stop();
  }
}

/**
 * Per-step latency on the embedded stack: the bare SDK on an untuned dev server (what bounds it:
 * the history shard's transfer-task poll limit, 20/s, puts every dispatch in a 50 ms grid) against
 * Shepherd's defaults (scripts/lib/server-tuning.ts) with Shepherd's worker.
 */
export async function benchLatency(ctx: BenchContext): Promise<void> {
  if (!ctx.workers) throw new Error('the latency case runs inside npm run bench (it needs the bench workers)');
  const { workflowBundle, bareTaskQueue, shepherdTaskQueue } = ctx.workers;
  const untuned = await untunedBaseline(ctx, workflowBundle);
  const bareTuned = await sequential(ctx.client, bareTaskQueue, 'noop', null);
  const shepherd = await sequential(ctx.client, shepherdTaskQueue, 'noop', null);
  const command = await sequential(ctx.client, shepherdTaskQueue, 'runCommand', { command: 'true', args: [], resultRequired: false });
  const line = (label: string, f: StepFigures) => {
    ctx.report(name, `${label}: no-op activity p50 / p99`, `${fmt(f.activity.p50)} / ${fmt(f.activity.p99)}`);
    ctx.report(name, `${label}: sequential step p50 / p99`, `${fmt(f.step.p50)} / ${fmt(f.step.p99)}`);
  };
  line('bare SDK, untuned dev server (baseline)', untuned);
  line('bare SDK, Shepherd server defaults', bareTuned);
  line('Shepherd worker, Shepherd server defaults', shepherd);
  ctx.report(name, 'Shepherd no-op activity p50 vs baseline (target <= 15 ms)', ratio(shepherd.activity.p50, untuned.activity.p50), 'x');
  ctx.report(name, 'Shepherd sequential step p50 vs baseline (target <= 40 ms)', ratio(shepherd.step.p50, untuned.step.p50), 'x');
  ctx.report(
    name,
    'Shepherd no-op runCommand step: activity p50 / sequential step p50',
    `${fmt(command.activity.p50)} / ${fmt(command.step.p50)}`,
  );
}
