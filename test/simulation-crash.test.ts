import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPool } from '../src/db/pool.js';
import type { SimulationJobInput, SimulationJobResult } from '../src/shared/simulation/schemas.js';
import { connectTestClient, startTestWorker, tempDir, uniqueQueue } from './support/harness.js';
import { markedProcesses, waitFor } from './support/procs.js';
import { runSimulation, shJob, startSimulation, writeReplicateScript } from './support/simulation.js';
import { spawnWorkerProcess } from './support/worker-process.js';

// The worker running a sweep is SIGKILLed mid-batch (a crashed machine). Its replicate processes
// die with it; a new worker retries the batch after the heartbeat timeout, skips the replicates
// already stored, and the job ends with the same aggregates as an undisturbed run and no
// duplicate row.

describe('simulationJob across a worker crash', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('a SIGKILLed worker takes its replicates with it; a new worker completes the sweep with the same aggregates and no duplicates', async () => {
    const taskQueue = uniqueQueue('sim-crash');
    const marker = randomUUID();
    const release = path.join(tempDir('sim-release'), 'go');
    const script = writeReplicateScript();
    const { client, connection } = await connectTestClient();
    cleanups.push(() => connection.close());

    const first = spawnWorkerProcess({ taskQueue, dataDir: tempDir('sim-crash-worker') });
    cleanups.push(() => first.kill('SIGKILL'));
    await first.ready;

    const job = (jobId: string, mode: string): SimulationJobInput =>
      shJob(script, {
        jobId,
        // Explicit keys: the reference run below gets the same seeds.
        parameters: [
          { key: 'a', values: { mode, rate: 1 } },
          { key: 'b', values: { mode, rate: 2 } },
        ],
        replicates: 20,
        replicatesPerTask: 5,
        maxConcurrentReplicates: 4,
        heartbeatTimeout: '3s',
        aggregate: { fields: ['value', 'seed'], percentiles: [50] },
        replicate: { command: 'sh', args: [script, '{param.mode}'], env: { RELEASE_FILE: release, SHEPHERD_TEST_MARKER: marker } },
      });
    const jobId = `crash-${marker.slice(0, 8)}`;
    const handle = await startSimulation(client, taskQueue, job(jobId, 'hold-from-10'));

    // Replicates 0-9 of both sets are stored; 10-11 of each are held in the running batch.
    const pool = createPool(inject('databaseUrl'));
    cleanups.push(() => pool.end());
    await waitFor(async () => {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM simulation_replicates WHERE job_id = $1 AND status = 'succeeded'`, [
        jobId,
      ]);
      return rows[0].n === 20 && markedProcesses('SHEPHERD_TEST_MARKER', marker).length >= 4;
    }, 'first half stored and the next batch running');

    first.kill('SIGKILL');
    await first.exited;
    await waitFor(() => markedProcesses('SHEPHERD_TEST_MARKER', marker).length === 0, 'no orphaned replicate', 10_000);

    writeFileSync(release, '');
    const second = await startTestWorker({ taskQueue });
    cleanups.push(() => second.stop());
    const result = (await handle.result()) as SimulationJobResult;

    expect(result.status).toBe('completed');
    for (const p of result.parameters) {
      expect(p).toMatchObject({ status: 'completed', succeeded: 20, failed: 0, aggregated: true });
      expect(p.aggregates!.value).toMatchObject({ count: 20, min: 0, max: 19, mean: 9.5 });
    }
    const { rows } = await second.pool.query(
      `SELECT parameter_key, count(*)::int AS n, count(DISTINCT replicate)::int AS distinct_replicates, bool_and(status = 'succeeded') AS ok
         FROM simulation_replicates WHERE job_id = $1 GROUP BY parameter_key ORDER BY parameter_key`,
      [jobId],
    );
    expect(rows).toEqual([
      { parameter_key: 'a', n: 20, distinct_replicates: 20, ok: true },
      { parameter_key: 'b', n: 20, distinct_replicates: 20, ok: true },
    ]);
    const { rows: aggRows } = await second.pool.query('SELECT count(*)::int AS n FROM simulation_aggregates WHERE job_id = $1', [jobId]);
    expect(aggRows[0].n).toBe(2);

    // The interrupted batch really was retried by the new worker.
    const history = await client.workflow.getHandle(`simulation-${jobId}-a`).fetchHistory();
    const attempts = (history.events ?? []).flatMap((e) =>
      e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt ?? 1] : [],
    );
    expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);

    // Same seeds, same results: identical to a run that was never interrupted.
    const reference = await runSimulation(second.client, taskQueue, job(`${jobId}-ref`, 'ok'));
    expect(reference.parameters.map((p) => p.aggregates)).toEqual(result.parameters.map((p) => p.aggregates));
    expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).toEqual([]);
  });
});
