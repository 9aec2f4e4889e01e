import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { bundleWorkflowCode } from '@temporalio/worker';
import { trainingQueueWorkflowId, type TrainingJobInput } from '../src/shared/training/schemas.js';
import { createShepherdWorker, workflowsPath } from '../src/workers/create-worker.js';
import { bundleOptions } from '../src/workers/bundle-options.js';
import { spawnWorkerProcess } from '../scripts/lib/worker-process.js';
import type { trainingQueue } from '../src/workflows/training/training-queue.js';
import { enqueueUpdate, statusQuery } from '../src/shared/training/messages.js';
import { markedProcesses, waitFor } from '../test/support/procs.js';
import type { BenchContext } from './context.js';
import { fmt, summarize } from './stats.js';

// Recovery case (seed 004): a worker running a heartbeating training step is SIGKILLed; how long
// until the step runs again on a second worker? Measured from the kill to the moment a new
// trainer process exists (the second worker's attempt has started it), against the job's
// heartbeat timeout, which is what Temporal waits before it declares the attempt lost.
// Target: within heartbeat timeout + 2 s. The kill also must leave no trainer behind.

const TRIALS = Number(process.env.BENCH_RECOVERY_TRIALS ?? 3);
const HEARTBEAT_TIMEOUT_S = Number(process.env.BENCH_RECOVERY_HEARTBEAT_S ?? 3);
const RETRY_INITIAL_MS = 100;

const quiet = {
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: console.error,
  log: () => undefined,
};

function spawnWorker(ctx: BenchContext, taskQueue: string, dataDir: string) {
  return spawnWorkerProcess({
    TEMPORAL_ADDRESS: ctx.address,
    TEMPORAL_NAMESPACE: 'default',
    DATABASE_URL: ctx.databaseUrl,
    SHEPHERD_TASK_QUEUE: taskQueue,
    SHEPHERD_DATA_DIR: dataDir,
    SHEPHERD_LOG_LEVEL: 'info',
  });
}

export async function benchRecovery(ctx: BenchContext): Promise<void> {
  const name = `recovery: SIGKILL of a worker mid-training (heartbeat timeout ${HEARTBEAT_TIMEOUT_S}s)`;
  const bundle = await bundleWorkflowCode({
    ...bundleOptions,
    workflowsPath,
    logger: quiet,
  });
  const recoveries: number[] = [];
  let orphans = 0;
  let resumedFromCheckpoint = 0;

  for (let trial = 0; trial < TRIALS; trial++) {
    const taskQueue = `bench-recovery-${randomUUID().slice(0, 6)}`;
    const dataDir = path.join(ctx.workDir, `recovery-${trial}`);
    const marker = randomUUID();
    const first = spawnWorker(ctx, taskQueue, dataDir);
    const second = await createShepherdWorker({
      connection: ctx.connection,
      namespace: 'default',
      taskQueue,
      // Same data directory as the first worker: the job's checkpoints are in <data dir>/training.
      deps: { ...ctx.deps, runsDir: path.join(dataDir, 'runs-second'), procDir: path.join(dataDir, 'procs-second') },
      workflowBundle: { code: bundle.code },
      shutdownGraceTime: '2s',
    });
    let secondRunning: Promise<void> | undefined;
    const queue = `bench-${marker.slice(0, 8)}`;
    try {
      await first.ready;
      const handle = await ctx.client.workflow.start<typeof trainingQueue>('trainingQueue', {
        taskQueue,
        workflowId: trainingQueueWorkflowId(queue),
        args: [{ queue, progressIntervalMs: 500, notify: false }],
      });
      const job: TrainingJobInput = {
        jobId: 'long',
        dataset: 'examples/experiments/data/iris.csv',
        steps: 100_000_000,
        evalInterval: 50,
        checkpointInterval: 100,
        heartbeatTimeout: `${HEARTBEAT_TIMEOUT_S}s`,
        retry: { maximumAttempts: 5, initialInterval: RETRY_INITIAL_MS, backoffCoefficient: 2, maximumInterval: '2s' },
        params: { stepDelayMs: 2 },
        trainer: { env: { SHEPHERD_BENCH_MARKER: marker } },
      };
      await handle.executeUpdate(enqueueUpdate, { args: [job] });
      const before = await waitFor(
        async () => {
          const s = await handle.query(statusQuery);
          return (s.current?.progress?.lastCheckpoint?.step ?? 0) >= 200 ? s : undefined;
        },
        'a checkpoint on the first worker',
        120_000,
      );
      // The second worker only starts polling now, so the first attempt surely ran on the first.
      secondRunning = second.run();
      const firstTrainers = new Set(markedProcesses('SHEPHERD_BENCH_MARKER', marker));

      const killedAt = performance.now();
      first.kill('SIGKILL');
      const resumedAt = await waitFor(
        () => (markedProcesses('SHEPHERD_BENCH_MARKER', marker).some((pid) => !firstTrainers.has(pid)) ? performance.now() : undefined),
        'the trainer running again on the second worker',
        HEARTBEAT_TIMEOUT_S * 1000 + 60_000,
      );
      recoveries.push(resumedAt - killedAt);
      if (markedProcesses('SHEPHERD_BENCH_MARKER', marker).some((pid) => firstTrainers.has(pid))) orphans++;

      const after = await waitFor(
        async () => {
          const s = await handle.query(statusQuery);
          return (s.current?.progress?.attempt ?? 0) >= 2 ? s : undefined;
        },
        'progress of the second attempt',
        60_000,
      );
      if (after.current!.progress!.startStep >= before.current!.progress!.lastCheckpoint!.step) resumedFromCheckpoint++;
      await handle.terminate('bench done');
    } finally {
      first.kill('SIGKILL');
      await first.exited;
      if (second.getState() === 'RUNNING') second.shutdown();
      await secondRunning?.catch(() => undefined);
      // Terminating the queue abandons its activity; the worker shutdown above cancelled it and killed the trainer.
      await waitFor(() => markedProcesses('SHEPHERD_BENCH_MARKER', marker).length === 0, 'bench trainers gone', 30_000).catch(
        () => undefined,
      );
    }
  }

  const s = summarize(recoveries);
  const hb = HEARTBEAT_TIMEOUT_S * 1000;
  ctx.report(name, 'kill → step running again (each trial)', recoveries.map((r) => fmt(r)).join(', '));
  ctx.report(name, 'median / max', `${fmt(s.p50)} / ${fmt(Math.max(...recoveries))}`);
  ctx.report(name, 'median ratio vs heartbeat timeout', s.p50 / hb, 'x');
  ctx.report(name, 'worst excess over heartbeat timeout (target <= 2000 ms)', Math.max(...recoveries) - hb, 'ms');
  ctx.report(name, 'resumed from checkpoint (step count continued)', `${resumedFromCheckpoint}/${TRIALS}`);
  ctx.report(name, 'orphaned trainers after the kill', orphans);
}
