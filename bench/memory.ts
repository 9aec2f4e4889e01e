import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import type { ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import { conversationBatchWorkflowId } from '../src/shared/conversations/workflow-ids.js';
import { experimentBatchWorkflowId } from '../src/shared/experiments/workflow-ids.js';
import { enqueueUpdate } from '../src/shared/training/messages.js';
import { trainingQueueWorkflowId } from '../src/shared/training/schemas.js';
import { spawnWorkerProcess, type WorkerProcess } from '../scripts/lib/worker-process.js';
import { startFakeModelServer } from '../test/support/fake-ollama.js';
import type { BenchContext } from './context.js';
import { writeWorkflowBundle } from './worker-bundle.js';

// Memory case: the worker's resident memory with 1,000 open pipelines, all waiting: experiment
// batches whose step sleeps (only SHEPHERD_MAX_CONCURRENT_ACTIVITIES run, the rest wait in the
// task queue), conversation batches whose model streams one chunk a second (the model's
// concurrency limit holds the rest), and a training queue with a slow trainer. Measured from
// /proc of the real worker process (the compiled one the package ships), against the same worker
// idle, for the SDK's default workflow cache and for SHEPHERD_MAX_CACHED_WORKFLOWS 250 and 10.
// Target: ≤ 300 MB resident, worker plus its step spawner.

const PIPELINES = Number(process.env.BENCH_MEMORY_PIPELINES ?? 1000);
const CONVERSATIONS = Math.round(PIPELINES * 0.2);
const EXPERIMENTS = PIPELINES - CONVERSATIONS - 1;
const CACHES = (process.env.BENCH_MEMORY_CACHES ?? 'default,250,10').split(',');
const TARGET_MB = 300;
// The compiled worker (`npm run build`), as the package and the container image run it; `source` runs it under tsx.
const BUILT = (process.env.BENCH_MEMORY_WORKER ?? 'built') === 'built';
const MODEL = 'bench-slow';

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The worker's step spawner (a child process of the worker: compiled, or the Node helper), whose memory counts too. */
function spawnerRssMb(workerPid: number): number {
  for (const task of readdirSync(`/proc/${workerPid}/task`)) {
    for (const pid of readFileSync(`/proc/${workerPid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0]!.endsWith('/shepherd-spawn') || argv.some((a) => a.endsWith('spawner/helper.mjs'))) return rssMb(Number(pid));
    }
  }
  return 0;
}

function conversation(): ConversationDefinitionInput {
  return {
    name: 'bench-memory',
    item: { key: 'id', fields: ['id'] },
    start: 'ask',
    defaults: { timeout: '2h', heartbeatTimeout: '30s' },
    steps: [{ id: 'ask', actor: { kind: 'llm', model: MODEL, prompt: 'Tell me about {{item.id}}.' }, end: true }],
  };
}

/** Starts `n` workflows, 20 at a time. */
async function startAll(n: number, start: (i: number) => Promise<WorkflowHandle>): Promise<WorkflowHandle[]> {
  const handles: WorkflowHandle[] = [];
  for (let i = 0; i < n; i += 20) handles.push(...(await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, j) => start(i + j)))));
  return handles;
}

async function openPipelines(ctx: BenchContext, taskQueue: string, tag: string): Promise<WorkflowHandle[]> {
  const client = ctx.client;
  const experiments = await startAll(EXPERIMENTS, (i) => {
    const batchId = `mem-${tag}-${i}`;
    return client.workflow.start('experimentBatch', {
      taskQueue,
      workflowId: experimentBatchWorkflowId(batchId),
      args: [{ batchId, notify: false, experimentTimeout: '2h', experiments: [{ name: 'slow', command: 'sleep', args: ['7200'] }] }],
    });
  });
  const def = conversation();
  const conversations = await startAll(CONVERSATIONS, (i) => {
    const batchId = `mem-${tag}-${i}`;
    return client.workflow.start('conversationBatch', {
      taskQueue,
      workflowId: conversationBatchWorkflowId(batchId),
      args: [{ batchId, definition: def, source: { kind: 'items', items: [{ id: `i${i}` }] }, concurrency: 1, notify: false }],
    });
  });
  const queue = `mem-${tag}`;
  const training = await client.workflow.start('trainingQueue', {
    taskQueue,
    workflowId: trainingQueueWorkflowId(queue),
    args: [{ queue, notify: false }],
  });
  await training.executeUpdate(enqueueUpdate, {
    args: [
      {
        jobId: 'slow',
        dataset: 'examples/experiments/data/iris.csv',
        steps: 100_000,
        evalInterval: 50,
        checkpointInterval: 100,
        params: { stepDelayMs: 500 },
      },
    ],
  });
  return [...experiments, ...conversations, training];
}

/** Which workflows ended and how: the server (and its histories) is gone once the bench stops. */
async function describeEnded(ctx: BenchContext, taskQueue: string): Promise<string> {
  const out: string[] = [];
  for await (const w of ctx.client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus != 'Running'` })) {
    // A run that continued as new has no result of its own (result() would wait for the next run).
    const why =
      w.status.name === 'CONTINUED_AS_NEW'
        ? ''
        : await ctx.client.workflow
            .getHandle(w.workflowId, w.runId)
            .result()
            .then(
              () => '',
              (err: Error) => `: ${(err.cause as Error | undefined)?.message ?? err.message}`,
            );
    out.push(`${w.type} ${w.workflowId} ${w.status.name}${why}`);
    if (out.length === 5) break;
  }
  return out.join('; ');
}

/**
 * Waits until the open workflows stop changing (each pipeline had its workflow tasks; steps past
 * the worker's activity slots wait in the task queue, as they would in production).
 */
async function waitOpen(ctx: BenchContext, taskQueue: string, atLeast: number, worker: WorkerProcess): Promise<number> {
  const t0 = performance.now();
  let last = -1;
  let stable = 0;
  for (;;) {
    const { count } = await ctx.client.workflow.count(`TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`);
    const ended = await ctx.client.workflow.count(`TaskQueue = '${taskQueue}' AND ExecutionStatus != 'Running'`);
    if (ended.count > 0) throw new Error(`${ended.count} bench pipelines ended early: ${await describeEnded(ctx, taskQueue)}`);
    stable = count === last ? stable + 1 : 0;
    last = count;
    if (count >= atLeast && stable >= 5) return count;
    if (performance.now() - t0 > 600_000) throw new Error(`${count} workflows running after 10 min: ${worker.output().slice(-1000)}`);
    await sleep(2000);
  }
}

export async function benchMemory(ctx: BenchContext): Promise<void> {
  const name = `memory: ${PIPELINES} open pipelines (${EXPERIMENTS} experiment batches, ${CONVERSATIONS} conversation batches, 1 training queue)`;
  const fake = await startFakeModelServer();
  // About an hour per reply at one chunk a second: the calls stay open for the whole case.
  fake.setDefault({ reply: 'x'.repeat(3600), chunkSize: 1, chunkDelayMs: 1000 });
  const bundlePath = await writeWorkflowBundle(ctx.workDir, 'memory-workflows.js');
  // Output buffered, not shown: execa's error carries it if the build fails.
  if (BUILT) await execa('npm', ['run', 'build']);
  try {
    for (const cache of CACHES) {
      const tag = randomUUID().slice(0, 6);
      const taskQueue = `bench-memory-${tag}`;
      const worker = spawnWorkerProcess(
        {
          TEMPORAL_ADDRESS: ctx.address,
          TEMPORAL_NAMESPACE: 'default',
          DATABASE_URL: ctx.databaseUrl,
          SHEPHERD_TASK_QUEUE: taskQueue,
          SHEPHERD_DATA_DIR: path.join(ctx.workDir, `memory-${tag}`),
          SHEPHERD_WORKFLOW_BUNDLE: bundlePath,
          SHEPHERD_LOG_LEVEL: 'info', // ready is read from its "worker started" line
          SHEPHERD_SHUTDOWN_GRACE: '2s',
          SHEPHERD_DISK_FLOOR: '0',
          SHEPHERD_MODELS: JSON.stringify({ models: { [MODEL]: { provider: 'ollama', baseUrl: fake.url, maxConcurrency: 4 } } }),
          ...(cache === 'default' ? {} : { SHEPHERD_MAX_CACHED_WORKFLOWS: cache }),
        },
        { built: BUILT },
      );
      const handles: WorkflowHandle[] = [];
      try {
        await worker.ready;
        await sleep(3000);
        const idle = rssMb(worker.pid);
        let peak = idle;
        const sampler = setInterval(() => (peak = Math.max(peak, rssMb(worker.pid))), 500);
        const t0 = performance.now();
        console.error(`memory (${cache}): idle ${idle.toFixed(0)} MiB; opening ${PIPELINES} pipelines...`);
        handles.push(...(await openPipelines(ctx, taskQueue, tag)));
        const workflows = await waitOpen(ctx, taskQueue, PIPELINES, worker);
        const open = (performance.now() - t0) / 1000;
        console.error(`memory (${cache}): all open after ${open.toFixed(0)} s; sampling 30 s`);
        // Steady state: heartbeats, model chunks and timers keep ticking; sample for 30 s.
        const samples: number[] = [];
        for (let i = 0; i < 30; i++) {
          await sleep(1000);
          samples.push(rssMb(worker.pid));
        }
        clearInterval(sampler);
        samples.sort((a, b) => a - b);
        const spawner = spawnerRssMb(worker.pid);
        const steady = samples[Math.floor(samples.length / 2)]! + spawner;
        const label = `${name}, workflow cache ${cache === 'default' ? 'SDK default' : cache}`;
        ctx.report(label, 'all open and settled after', open, `s (${workflows} running workflows, children included)`);
        ctx.report(label, 'idle worker RSS (no pipelines)', idle, 'MiB');
        ctx.report(label, 'step spawner RSS (its helper process, counted in the next line)', spawner, 'MiB');
        ctx.report(label, 'RSS with all open (median of 30 s, worker + step spawner)', steady, 'MiB');
        ctx.report(label, 'peak RSS while opening', peak, 'MiB');
        ctx.report(label, `target ≤ ${TARGET_MB} MB`, steady * 1.048576 <= TARGET_MB ? 'met' : 'MISSED');
      } finally {
        await Promise.all(handles.map((h) => h.terminate('bench over').catch(() => undefined)));
        worker.kill('SIGTERM');
        await worker.exited;
      }
    }
  } finally {
    await fake.close();
  }
}
