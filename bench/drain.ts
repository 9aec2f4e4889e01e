import type { WorkflowHandle } from '@temporalio/client';
import { experimentBatchWorkflowId } from '../src/shared/experiments/workflow-ids.js';
import { duplicateRows, strayProcesses } from '../scripts/chaos/checks.js';
import { settle, withRetry } from '../scripts/chaos/engine.js';
import { startStack, type ChaosStack } from '../scripts/chaos/stack.js';
import type { BenchContext } from './context.js';

// Drain case: the same load of in-flight pipelines twice on one stack (dev server on a SQLite
// file, real worker processes): once without faults, once with the Temporal server restarted and
// every worker SIGKILLed (and replaced) just after the last pipeline started. Every pipeline must
// complete, with no duplicate result row and no stray step process; target: the faulted drain
// takes ≤ 2× the fault-free one.

const PIPELINES = Number(process.env.BENCH_DRAIN_PIPELINES ?? 500);
const WORKERS = 2;
const TARGET_RATIO = 2;

/** One batch, one step of about a second: long enough that the faults land mid-step. */
function batchInput(batchId: string) {
  return {
    batchId,
    notify: false,
    heartbeatTimeout: '3s',
    retry: { maximumAttempts: 20, initialInterval: '200ms', maximumInterval: '2s' },
    experiments: [{ name: 'step', command: 'sh', args: ['-c', 'sleep 1; printf \'{"ok":true}\' > "$SHEPHERD_RESULT_FILE"'] }],
  };
}

async function startLoad(stack: ChaosStack, tag: string): Promise<WorkflowHandle[]> {
  const handles: WorkflowHandle[] = [];
  for (let i = 0; i < PIPELINES; i += 25) {
    const ids = Array.from({ length: Math.min(25, PIPELINES - i) }, (_, j) => `drain-${tag}-${i + j}`);
    handles.push(
      ...(await Promise.all(
        ids.map((batchId) =>
          stack.client.workflow.start('experimentBatch', {
            taskQueue: stack.taskQueue,
            workflowId: experimentBatchWorkflowId(batchId),
            args: [batchInput(batchId)],
          }),
        ),
      )),
    );
  }
  return handles;
}

/** Seconds until every pipeline closed, and how many completed (waits through the restart). */
async function drain(handles: WorkflowHandle[], t0: number): Promise<{ seconds: number; completed: number }> {
  const outcomes = await Promise.all(
    handles.map((handle) => withRetry(() => settle({ kind: 'experimentBatch', workflowId: handle.workflowId, handle }), 600_000)),
  );
  return { seconds: (performance.now() - t0) / 1000, completed: outcomes.filter((o) => o === 'completed').length };
}

async function faults(stack: ChaosStack): Promise<void> {
  const victims = stack.workers.filter((w) => w.alive);
  for (const w of victims) w.kill('SIGKILL');
  await Promise.all(victims.map((w) => w.exited));
  await stack.restartServer();
  for (let i = 0; i < WORKERS; i++) stack.spawnWorker();
  await Promise.all(stack.workers.filter((w) => w.alive).map((w) => w.ready));
}

export async function benchDrain(ctx: BenchContext): Promise<void> {
  const name = `drain: ${PIPELINES} in-flight experiment batches, ${WORKERS} worker processes`;
  const stack = await startStack();
  try {
    for (let i = 0; i < WORKERS; i++) stack.spawnWorker();
    await Promise.all(stack.workers.map((w) => w.ready));

    let t0 = performance.now();
    const clean = await drain(await startLoad(stack, 'clean'), t0);
    ctx.report(name, 'fault-free drain', clean.seconds, `s (${clean.completed}/${PIPELINES} completed)`);

    t0 = performance.now();
    const handles = await startLoad(stack, 'faulted');
    const faultAt = (performance.now() - t0) / 1000;
    await faults(stack);
    const faulted = await drain(handles, t0);
    ctx.report(
      name,
      'drain with server restart + every worker SIGKILLed',
      faulted.seconds,
      `s (${faulted.completed}/${PIPELINES} completed; faults at ${faultAt.toFixed(1)} s)`,
    );
    const r = faulted.seconds / clean.seconds;
    ctx.report(name, 'faulted / fault-free', r, 'x');
    const dups = Object.values(await duplicateRows(stack.db.url)).flat();
    for (const w of stack.workers) if (w.alive) w.kill('SIGTERM');
    await Promise.all(stack.workers.map((w) => w.exited));
    const strays = strayProcesses(stack.marker, stack.dataDir);
    ctx.report(name, 'duplicate result rows / stray processes', `${dups.length} / ${strays.length}`);
    const allDone = clean.completed === PIPELINES && faulted.completed === PIPELINES;
    ctx.report(name, `target ≤ ${TARGET_RATIO}x, all complete`, allDone && r <= TARGET_RATIO && !dups.length ? 'met' : 'MISSED');
  } finally {
    await stack.close();
  }
}
