import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { SimulationJobInput, SimulationJobResult } from '../src/shared/simulation/schemas.js';
import { startCluster } from '../scripts/lib/cluster/cluster.js';
import { spawnWorkerProcess, type WorkerProcess } from '../scripts/lib/worker-process.js';
import type { BenchContext } from './context.js';
import { writeWorkflowBundle } from './worker-bundle.js';
import { ratio } from './stats.js';

// Scale case: does throughput grow with worker processes? On a real multi-process cluster
// (4 shards, 2 history hosts), a sweep of CPU-bound replicates (a fixed amount of arithmetic per
// replicate, not a fixed time, so contention shows) runs with 1, 2 and 3 worker processes, each
// allowed BENCH_SCALE_SLOTS concurrent steps. Reported as replicates/s and the ratio to 1 worker.
// The ceiling is the machine's cores: with 2 cores, 2 single-slot workers can at best double the
// rate, and a third adds nothing but contention (the server's processes share the same cores).

const REPLICATES = Number(process.env.BENCH_SCALE_REPLICATES ?? 24);
const SLOTS = Number(process.env.BENCH_SCALE_SLOTS ?? 1);
const ITERATIONS = Number(process.env.BENCH_SCALE_ITERATIONS ?? 60_000_000);

// Constant program, not input: fixed work, then the result file.
const BURN = `let x = 0; for (let i = 0; i < ${ITERATIONS}; i++) x += Math.sqrt(i); require('node:fs').writeFileSync(process.env.SHEPHERD_RESULT_FILE, JSON.stringify({ value: x % 1 }));`;

function job(jobId: string): SimulationJobInput {
  return {
    jobId,
    replicate: { command: process.execPath, args: ['-e', BURN] },
    parameters: [{ key: 'burn', values: { iterations: ITERATIONS } }],
    replicates: REPLICATES,
    maxConcurrentReplicates: REPLICATES,
    aggregate: { fields: ['value'], stats: ['count', 'mean'] },
    replicateRetry: { maximumAttempts: 2, initialInterval: '100ms' },
  } as SimulationJobInput;
}

export async function benchScale(ctx: BenchContext): Promise<void> {
  // Worker processes need a database they can share; the embedded PGlite socket is not one.
  if (!process.env.DATABASE_URL) {
    ctx.report('scale', 'skipped', 'needs DATABASE_URL (a real PostgreSQL, which the cluster uses too)');
    return;
  }
  const name = `scale: ${REPLICATES} CPU-bound replicates on a 4-shard cluster (${SLOTS} slot/worker, ${os.cpus().length} cores)`;
  const bundlePath = await writeWorkflowBundle(ctx.workDir, 'scale-workflows.js');
  const cluster = await startCluster({ shards: 4, historyHosts: 2, root: path.join(ctx.workDir, 'scale-cluster') });
  const connection = await Connection.connect({ address: cluster.address });
  const client = new Client({ connection, namespace: cluster.namespace });
  const rates: number[] = [];
  try {
    for (const n of [1, 2, 3]) {
      const taskQueue = `bench-scale-${n}-${randomUUID().slice(0, 6)}`;
      const workers: WorkerProcess[] = [];
      try {
        for (let i = 0; i < n; i++) {
          workers.push(
            spawnWorkerProcess({
              TEMPORAL_ADDRESS: cluster.address,
              TEMPORAL_NAMESPACE: cluster.namespace,
              DATABASE_URL: ctx.databaseUrl,
              SHEPHERD_TASK_QUEUE: taskQueue,
              SHEPHERD_DATA_DIR: path.join(ctx.workDir, `scale-${n}-${i}`),
              SHEPHERD_WORKFLOW_BUNDLE: bundlePath,
              SHEPHERD_MAX_CONCURRENT_ACTIVITIES: String(SLOTS),
              SHEPHERD_LOG_LEVEL: 'info', // readiness is the "worker started" info line
            }),
          );
        }
        await Promise.all(workers.map((w) => w.ready));
        const t0 = performance.now();
        const result = (await client.workflow.execute('simulationJob', {
          taskQueue,
          workflowId: `simulation-scale-${n}-${randomUUID().slice(0, 6)}`,
          args: [job(`scale-${n}-${randomUUID().slice(0, 6)}`)],
        })) as SimulationJobResult;
        const seconds = (performance.now() - t0) / 1000;
        if (result.totals.succeeded !== REPLICATES)
          throw new Error(`scale run with ${n} workers: ${result.totals.succeeded}/${REPLICATES} replicates succeeded`);
        rates.push(REPLICATES / seconds);
        ctx.report(name, `${n} worker${n > 1 ? 's' : ''}: wall time`, seconds, 's');
        ctx.report(name, `${n} worker${n > 1 ? 's' : ''}: replicates/s`, REPLICATES / seconds);
        ctx.report(name, `${n} worker${n > 1 ? 's' : ''}: ratio to 1 worker`, ratio(REPLICATES / seconds, rates[0]!), 'x');
      } finally {
        for (const w of workers) w.kill('SIGTERM');
        await Promise.all(workers.map((w) => w.exited));
      }
    }
    ctx.report(
      name,
      'ideal ratio on this machine (min(workers × slots, cores))',
      `${[1, 2, 3].map((n) => Math.min(n * SLOTS, os.cpus().length) / Math.min(SLOTS, os.cpus().length)).join(' / ')}`,
    );
  } finally {
    await connection.close();
    await cluster.stop();
  }
}
