import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import type pg from 'pg';
import { startCluster, type TemporalCluster } from '../../scripts/lib/cluster/cluster.js';
import type { ModelRegistry } from '../../src/config/models.js';
import { createPool } from '../../src/db/pool.js';
import { startFakeModelServer, type FakeModelServer } from './fake-ollama.js';
import { registryFor } from './conversations.js';
import { tempDir, uniqueQueue } from './harness.js';
import { spawnWorkerProcess, type WorkerProcess } from './worker-process.js';

// A real multi-process Temporal cluster (4 shards, 2 history hosts) and N real Shepherd worker
// processes on one task queue, like a deployment: each worker has its own data dir and process
// records, all share one runs root (the shared volume a real deployment gives training
// checkpoints) and the suite's PostgreSQL.

export const CLUSTER_MODELS = ['qwen2.5:7b', 'gemma3:4b', 'mistral:latest'] as const;

export interface ClusterStack {
  cluster: TemporalCluster;
  client: Client;
  pool: pg.Pool;
  taskQueue: string;
  fake: FakeModelServer;
  registry: ModelRegistry;
  /** The suffixed name of a base model. */
  model(base: string): string;
  workers: WorkerProcess[];
  /** Starts one more worker process (index = its slot in `workers`). */
  spawnWorker(): Promise<WorkerProcess>;
  /** The worker process that pid descends from, if any. */
  workerOf(pid: number): WorkerProcess | undefined;
  stop(): Promise<void>;
}

export async function startClusterStack(opts: { workers?: number; historyHosts?: number } = {}): Promise<ClusterStack> {
  const cluster = await startCluster({ shards: 4, historyHosts: opts.historyHosts ?? 2, root: tempDir('cluster') });
  const fake = await startFakeModelServer();
  const suffix = randomUUID().slice(0, 6);
  const registry = registryFor(
    fake,
    {
      'qwen2.5:7b': { maxConcurrency: 2 },
      'gemma3:4b': { maxConcurrency: 1 },
      'mistral:latest': { maxConcurrency: 1, jsonMode: 'object' },
    },
    suffix,
  );
  const taskQueue = uniqueQueue('cluster');
  const shared = tempDir('cluster-shared');
  const workers: WorkerProcess[] = [];
  const spawnWorker = async () => {
    const i = workers.length;
    const w = spawnWorkerProcess({
      taskQueue,
      address: cluster.address,
      dataDir: tempDir(`cluster-worker-${i}`),
      env: {
        SHEPHERD_RUNS_DIR: path.join(shared, `runs-${i}`),
        SHEPHERD_MODELS: JSON.stringify(registry),
        SHEPHERD_MODEL_LEASE_TTL_MS: '3000',
        SHEPHERD_MAX_CONCURRENT_ACTIVITIES: '4',
      },
    });
    workers.push(w);
    await w.ready;
    return w;
  };
  const connection = await Connection.connect({ address: cluster.address });
  const client = new Client({ connection, namespace: cluster.namespace });
  const pool = createPool(inject('databaseUrl'));
  try {
    for (let i = 0; i < (opts.workers ?? 3); i++) await spawnWorker();
  } catch (err) {
    workers.forEach((w) => w.kill('SIGKILL'));
    await cluster.stop();
    throw err;
  }
  return {
    cluster,
    client,
    pool,
    taskQueue,
    fake,
    registry,
    model: (base) => `${base}-${suffix}`,
    workers,
    spawnWorker,
    workerOf(pid) {
      for (let p: number | undefined = pid, hops = 0; p && p > 1 && hops < 6; p = parentPid(p), hops++) {
        const w = workers.find((x) => x.pid === p);
        if (w) return w;
      }
      return undefined;
    },
    async stop() {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.exited));
      await connection.close();
      await pool.end();
      await fake.close();
      await cluster.stop();
    },
  };
}

export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
