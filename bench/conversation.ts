import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ConversationBatchResult, ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import type { ModelRegistry } from '../src/config/models.js';
import { createModelWorkers } from '../src/workers/model-workers.js';
import { ModelSlotRegistry } from '../src/workers/local-model-slots.js';
import { createShepherdWorker } from '../src/workers/create-worker.js';
import { streamChat } from '../src/activities/conversations/llm.js';
import { Worker } from '@temporalio/worker';
import { startFakeModelServer } from '../test/support/fake-ollama.js';
import { localActivityType } from '../test/support/local-activities.js';
import type { BenchContext } from './context.js';
import { activityLatencies, fetchHistory, firstTaskMs, stepIntervals } from './history-latency.js';
import { addCpu, cpuMark, cpuPerStep, cpuSpan, NO_CPU, type CpuMark } from './cpu.js';
import { fmt, ratio, summarize } from './stats.js';
import { conversationBatch, conversationRun } from '../src/workflows/index.js';

// Conversation case: 500 items × 7 llm steps against the local model server with zero model
// latency, so what is measured is Shepherd's orchestration: per-model lease, model activity on its
// own queue, streamed HTTP call, audit row, routing. Reported as ratios to the bare-SDK no-op
// activity measured earlier in the same run, and beside bare steps built like a conversation step
// (activity on its own queue, the same model call) with the CPU each kind of step costs.

const ITEMS = Number(process.env.BENCH_CONVERSATION_ITEMS ?? 500);
// Runs one after another for the per-step p50: 60, since with 20 its run-to-run spread hid changes of ~1 ms.
const SEQUENTIAL = Number(process.env.BENCH_CONVERSATION_SEQUENTIAL ?? 60);
// Blocks the sequential measurement is interleaved in (conversation runs, bare baselines).
const BLOCKS = Number(process.env.BENCH_CONVERSATION_BLOCKS ?? 6);
const CONCURRENCY = Number(process.env.BENCH_CONVERSATION_CONCURRENCY ?? 50);
const MODELS = ['bench-a', 'bench-b', 'bench-c'];
const STEPS = 7;

function definition(): ConversationDefinitionInput {
  const steps = Array.from({ length: STEPS }, (_, i) => ({
    id: `s${i + 1}`,
    actor: {
      kind: 'llm' as const,
      model: MODELS[i % MODELS.length]!,
      prompt: i === 0 ? 'Start from {{item.text}}.' : `Continue from {{steps.s${i}.text}}.`,
    },
    ...(i === STEPS - 1 ? { end: true as const } : { next: `s${i + 2}` }),
  }));
  return {
    name: 'bench-seven-steps',
    item: { key: 'id', fields: ['id', 'text'] },
    start: 's1',
    defaults: { timeout: '1m', heartbeatTimeout: '20s' },
    steps,
  };
}

/** Wall time and CPU of one bare-SDK sequential workflow of `steps` steps (on the bench's bare worker). */
async function bareSequence(ctx: BenchContext, activity: string, steps: number, activityTaskQueue?: string) {
  const c0 = cpuMark(ctx.serverPid);
  const t0 = performance.now();
  await ctx.client.workflow.execute('benchSequence', {
    taskQueue: 'bench-bare',
    workflowId: `bench-conv-bare-${randomUUID().slice(0, 6)}`,
    args: [activity, steps, null, activityTaskQueue],
  });
  return { ms: performance.now() - t0, cpu: cpuSpan(c0, cpuMark(ctx.serverPid)) };
}

/** Wall time and CPU per step over bare sequences of `steps` steps in all. */
function perBareStep(parts: Array<{ ms: number; cpu: CpuMark }>, steps: number) {
  const cpu = parts.reduce((a, p) => addCpu(a, p.cpu), NO_CPU);
  return { ms: parts.reduce((a, p) => a + p.ms, 0) / steps, cpu: cpuPerStep(NO_CPU, cpu, steps) };
}

async function bareSteps(ctx: BenchContext, activity: string, steps: number, activityTaskQueue?: string) {
  return perBareStep([await bareSequence(ctx, activity, steps, activityTaskQueue)], steps);
}

/** Per step of bare-SDK workflows of `steps` no-op steps started one after another, as conversation runs are. */
async function bareRunsOfSteps(ctx: BenchContext, steps: number, runs: number): Promise<number[]> {
  const perStep: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await ctx.client.workflow.execute('benchSequence', {
      taskQueue: 'bench-bare',
      workflowId: `bench-conv-bare-run-${randomUUID().slice(0, 6)}`,
      args: ['noop', steps, null],
    });
    perStep.push((performance.now() - t0) / steps);
  }
  return perStep;
}

/** A batch of `n` items, items as child workflows, pages with continue-as-new: its time and audit rows. */
async function runBatch(ctx: BenchContext, taskQueue: string, def: ConversationDefinitionInput, n: number) {
  const items = Array.from({ length: n }, (_, i) => ({ id: `i${i}`, text: `item ${i}` }));
  const batchId = `bench-${randomUUID().slice(0, 6)}`;
  const t0 = performance.now();
  const result = (await ctx.client.workflow.execute(conversationBatch, {
    taskQueue,
    workflowId: `conversation-batch-${batchId}`,
    args: [{ batchId, definition: def, source: { kind: 'items', items }, concurrency: CONCURRENCY, pageSize: 100, notify: false }],
  })) as ConversationBatchResult;
  const seconds = (performance.now() - t0) / 1000;
  if (result.completed !== n) throw new Error(`bench batch completed ${result.completed} of ${n} (${result.failed} failed)`);
  const { rows } = await ctx.pool.query(
    "SELECT count(*)::int AS n FROM conversation_attempts WHERE batch_id = $1 AND status = 'completed'",
    [batchId],
  );
  return { seconds, auditRows: rows[0].n as number };
}

/**
 * SEQUENTIAL conversation runs one after another, with the bare baselines beside them: the bare-SDK
 * equivalent of a step (one no-op activity plus the workflow task that schedules the next: wall
 * time of a sequential workflow / its steps) and bare runs of STEPS steps started one after another.
 * All are measured in BLOCKS interleaved blocks (which kind goes first alternating), so a machine
 * whose speed drifts during the case favours neither side.
 */
async function sequentialRuns(ctx: BenchContext, runOne: (id: string) => Promise<unknown>) {
  const perStep: number[] = [];
  const ids: string[] = [];
  let conversationCpu = NO_CPU;
  const bareParts: Array<{ ms: number; cpu: CpuMark }> = [];
  const bareRunSteps: number[] = [];
  const blockRatios: number[] = [];
  const conversationBlock = async (runs: number) => {
    const c0 = cpuMark(ctx.serverPid);
    for (let i = 0; i < runs; i++) {
      const id = `seq-${randomUUID().slice(0, 6)}`;
      const t0 = performance.now();
      await runOne(id);
      perStep.push((performance.now() - t0) / STEPS);
      ids.push(id);
    }
    conversationCpu = addCpu(conversationCpu, cpuSpan(c0, cpuMark(ctx.serverPid)));
  };
  const bareBlock = async (runs: number) => {
    bareParts.push(await bareSequence(ctx, 'noop', STEPS * runs));
    bareRunSteps.push(...(await bareRunsOfSteps(ctx, STEPS, runs)));
  };
  for (let b = 0; b < BLOCKS; b++) {
    const runs = Math.floor((SEQUENTIAL * (b + 1)) / BLOCKS) - Math.floor((SEQUENTIAL * b) / BLOCKS);
    if (b % 2 === 0) await bareBlock(runs);
    await conversationBlock(runs);
    if (b % 2 === 1) await bareBlock(runs);
    // This block's ratio, to show how far the machine's speed moved between blocks.
    blockRatios.push(summarize(perStep.slice(-runs)).p50 / (bareParts.at(-1)!.ms / (STEPS * runs)));
  }
  return {
    perStep,
    ids,
    conversationCpu: cpuPerStep(NO_CPU, conversationCpu, STEPS * SEQUENTIAL),
    bare: perBareStep(bareParts, STEPS * SEQUENTIAL),
    bareRuns: summarize(bareRunSteps).p50,
    blockRatios,
  };
}

/**
 * What the per-model task queue and the model call cost by themselves, without Shepherd: bare
 * steps whose activity runs on a queue of its own (dispatched through matching, as a model call
 * is; the bare no-op baseline is eagerly dispatched), then the same with the streamed HTTP call to
 * the same model server, made by Shepherd's own client code.
 */
async function bareDecomposition(ctx: BenchContext, registry: ModelRegistry, taskQueue: string, steps: number) {
  const cfg = registry.models[MODELS[0]!]!;
  const queue = `${taskQueue}-bare-remote`;
  const worker = await Worker.create({
    connection: ctx.connection,
    taskQueue: queue,
    activities: {
      noop: async () => undefined,
      modelCall: async () => void (await streamChat(cfg, { model: MODELS[0]!, prompt: 'Continue from ok.', output: { format: 'text' } })),
    },
  });
  const running = worker.run();
  try {
    await bareSteps(ctx, 'modelCall', 20, queue);
    return { ownQueue: await bareSteps(ctx, 'noop', steps, queue), withCall: await bareSteps(ctx, 'modelCall', steps, queue) };
  } finally {
    worker.shutdown();
    await running;
  }
}

export async function benchConversation(ctx: BenchContext): Promise<void> {
  const name = 'conversation: 7 llm steps, zero model latency';
  const fake = await startFakeModelServer();
  fake.setDefault({ reply: 'ok', chunkSize: 64 });
  const taskQueue = `bench-conv-${randomUUID().slice(0, 6)}`;
  const registry: ModelRegistry = {
    models: Object.fromEntries(
      MODELS.map((m) => [m, { provider: 'ollama' as const, baseUrl: fake.url, maxConcurrency: 32, jsonMode: 'schema' as const }]),
    ),
  };
  // As a worker process is set up (createWorkerSet): model calls local-first.
  const modelSlots = new ModelSlotRegistry();
  const worker = await createShepherdWorker({
    connection: ctx.connection,
    namespace: 'default',
    taskQueue,
    deps: { ...ctx.deps, runsDir: path.join(ctx.workDir, 'conv-runs'), procDir: path.join(ctx.workDir, 'conv-procs'), modelSlots },
    maxConcurrentActivityTaskExecutions: 100,
  });
  const models = await createModelWorkers({
    connection: ctx.connection,
    namespace: 'default',
    taskQueue,
    pool: ctx.pool,
    registry,
    logger: ctx.deps.logger,
    shutdownGraceTime: '2s',
    localSlots: modelSlots,
  });
  // allSettled: every worker must be fully stopped before the caller closes the shared connection.
  const running = Promise.allSettled([worker.run(), models.run()]);
  const def = definition();
  try {
    const runOne = (id: string) =>
      ctx.client.workflow.execute(conversationRun, {
        taskQueue,
        workflowId: `bench-conv-${id}`,
        args: [{ definition: def, item: { id, text: 'hello' } }],
      });
    // Throughput first: the batch, items as child workflows, pages with continue-as-new. Its 3,500
    // steps also warm the conversation path, so the sequential runs below are measured warm, as the
    // bare baselines are (the bare SDK worker has run about 800 activities before this case).
    const batch = await runBatch(ctx, taskQueue, def, ITEMS);
    const stepsPerSec = (ITEMS * STEPS) / batch.seconds;
    ctx.report(name, `batch ${ITEMS} items x ${STEPS} steps`, batch.seconds, 's');
    ctx.report(name, 'throughput', stepsPerSec, 'steps/s');
    ctx.report(name, 'throughput ratio vs bare no-op activities/s', ratio(stepsPerSec, ctx.baseline.noopActivitiesPerSec), 'x');
    ctx.report(name, 'audit rows (completed) for the batch', batch.auditRows);
    // Runs started on their own (not a batch's children) check their models in their first call.
    for (let i = 0; i < 5; i++) await runOne(`warm-${randomUUID().slice(0, 6)}`);

    // Per-step latency, items one after another: whole workflow time / 7, the interval between
    // consecutive model calls (a step without the run's start and end), and the model activity alone.
    const interval: number[] = [];
    const modelCall: number[] = [];
    const firstTask: number[] = [];
    const calls = { offered: 0, queued: 0 };
    const { perStep, ids, conversationCpu, bare, bareRuns, blockRatios } = await sequentialRuns(ctx, runOne);
    // Histories are read after the last block: reading them is not part of a step.
    for (const id of ids) {
      const history = await fetchHistory(ctx.client, `bench-conv-${id}`);
      interval.push(...stepIntervals(history, 'callModel'));
      modelCall.push(...activityLatencies(history));
      firstTask.push(firstTaskMs(history));
      for (const e of history.events ?? []) {
        if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'callModel') calls.queued++;
        if (localActivityType(e) === 'callModelHere') calls.offered++;
      }
    }
    const parts = await bareDecomposition(ctx, registry, taskQueue, STEPS * SEQUENTIAL);
    const s = summarize(perStep);
    const iv = summarize(interval);
    const a = summarize(modelCall);
    ctx.report(name, 'per step, sequential (p50 / p99)', `${fmt(s.p50)} / ${fmt(s.p99)}`);
    ctx.report(
      name,
      "model calls made in the run's own worker (local-first) / queued",
      `${calls.offered - calls.queued} / ${calls.queued}`,
    );
    // Calls made locally leave no activity events: these two cover queued calls only.
    ctx.report(name, 'per step, between consecutive queued model calls (p50 / p99)', `${fmt(iv.p50)} / ${fmt(iv.p99)}`);
    ctx.report(name, 'per-step ratio vs bare no-op activity (p50)', ratio(s.p50, ctx.baseline.noopActivityP50Ms), 'x');
    ctx.report(name, 'queued model activity alone (p50 / p99)', `${fmt(a.p50)} / ${fmt(a.p99)}`);
    const ft = summarize(firstTask);
    ctx.report(name, "a run's first workflow task, its creation included (p50 / p99)", `${fmt(ft.p50)} / ${fmt(ft.p99)}`);
    ctx.report(name, 'bare SDK sequential step (no-op activity + workflow task), mean', bare.ms, 'ms');
    ctx.report(name, 'per-step ratio vs bare sequential step (p50)', ratio(s.p50, bare.ms), 'x');
    ctx.report(name, 'orchestration added per step vs bare sequential step (p50)', s.p50 - bare.ms, 'ms');
    ctx.report(
      name,
      `the same ratio within each of the ${BLOCKS} blocks (min / median / max)`,
      [Math.min(...blockRatios), summarize(blockRatios).p50, Math.max(...blockRatios)].map((r) => r.toFixed(3)).join(' / ') + ' x',
    );
    // The same shape as the conversation: runs of 7 bare steps one after another, each run's start
    // and end shared by its 7 steps (the line above spreads one start over all of its steps).
    ctx.report(name, `bare SDK runs of ${STEPS} sequential steps one after another, per step (p50)`, bareRuns, 'ms');
    ctx.report(name, `per-step ratio vs bare runs of ${STEPS} steps (p50)`, ratio(s.p50, bareRuns), 'x');
    ctx.report(name, 'bare step, activity on its own task queue, mean', parts.ownQueue.ms, 'ms');
    ctx.report(name, 'bare step, own task queue + the same streamed model call, mean', parts.withCall.ms, 'ms');
    ctx.report(name, 'per-step ratio vs bare step with own queue + model call (p50)', ratio(s.p50, parts.withCall.ms), 'x');
    ctx.report(name, 'CPU per step, server / bench process: conversation', conversationCpu);
    ctx.report(name, 'CPU per step, server / bench process: bare step', bare.cpu);
    ctx.report(name, 'CPU per step, server / bench process: bare, own queue + model call', parts.withCall.cpu);
  } finally {
    models.shutdown();
    worker.shutdown();
    await running;
    await fake.close();
  }
}
