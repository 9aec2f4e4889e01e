import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { type WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationJobProgress } from '../src/shared/simulation/messages.js';
import { sweepWorkflowId } from '../src/shared/simulation/workflow-ids.js';
import { startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { markedProcesses, waitFor } from './support/procs.js';
import { shJob, startSimulation, writeReplicateScript } from './support/simulation.js';
import { rejectionOf } from './support/failures.js';

// Cancelling a job, or its timeout, must stop every sweep and leave no replicate process behind.

let w: TestWorker;
let script: string;

beforeAll(async () => {
  w = await startTestWorker({ maxConcurrentActivityTaskExecutions: 20 });
  script = writeReplicateScript();
});
afterAll(async () => {
  await w?.stop();
});

const failureOf = (p: Promise<unknown>) => rejectionOf<WorkflowFailedError>(p);

function heldJob(jobId: string, marker: string, modes: string[], extra: Record<string, unknown> = {}) {
  return shJob(script, {
    jobId,
    parameters: modes.map((mode, i) => ({ key: `p${i}-${mode}`, values: { mode } })),
    replicates: 4,
    replicatesPerTask: 2,
    maxConcurrentReplicates: 12,
    // Never created: held replicates wait until they are killed.
    replicate: {
      command: 'sh',
      args: [script, '{param.mode}'],
      env: { RELEASE_FILE: path.join(tempDir('never'), 'never'), SHEPHERD_TEST_MARKER: marker },
    },
    ...extra,
  });
}

describe('simulationJob stopping', () => {
  it('cancelling the job cancels every sweep and kills every replicate process', async () => {
    const marker = randomUUID();
    const jobId = `cancel-${marker.slice(0, 8)}`;
    const input = heldJob(jobId, marker, ['hold-all', 'hold-all', 'hold-all']);
    const handle = await startSimulation(w.client, w.taskQueue, input);

    // Three sweeps, each running its four replicates (two tasks of two).
    await waitFor(() => markedProcesses('SHEPHERD_TEST_MARKER', marker).length >= 12, 'replicates of every sweep running');
    await handle.cancel();
    const err = await failureOf(handle.result());
    expect(err.cause).toBeInstanceOf(CancelledFailure);

    // The job closes only after its sweeps, and they only after their replicates were killed.
    expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).toEqual([]);
    for (const key of ['p0-hold-all', 'p1-hold-all', 'p2-hold-all']) {
      const d = await w.client.workflow.getHandle(sweepWorkflowId(jobId, key)).describe();
      expect(d.status.name).toBe('CANCELLED');
    }
    const progress = await handle.query<SimulationJobProgress>('progress');
    expect(progress.parameters.map((p) => p.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    const { rows } = await w.pool.query('SELECT status FROM simulation_jobs WHERE job_id = $1', [jobId]);
    expect(rows).toEqual([{ status: 'cancelled' }]);
  });

  it('the job timeout cancels every sweep, kills every replicate and reports the partial progress', async () => {
    const marker = randomUUID();
    const jobId = `timeout-${marker.slice(0, 8)}`;
    const handle = await startSimulation(w.client, w.taskQueue, heldJob(jobId, marker, ['ok', 'hold-all'], { timeout: '10s' }));
    const err = await failureOf(handle.result());

    const failure = err.cause as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe('SimulationJobTimedOut');
    expect(failure.message).toMatch(
      /timed out after 10s: \d+ of 8 replicates finished \(0 failed\), \d of 2 parameter sets aggregated; every sweep was cancelled/,
    );
    const partial = failure.details![0] as SimulationJobProgress;
    expect(partial.parameters.find((p) => p.key === 'p1-hold-all')).toMatchObject({ status: 'cancelled', aggregated: false, succeeded: 0 });
    expect(partial.totals.replicates).toBe(8);

    expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).toEqual([]);
    const held = await w.client.workflow.getHandle(sweepWorkflowId(jobId, 'p1-hold-all')).describe();
    expect(held.status.name).toBe('CANCELLED');
    const { rows } = await w.pool.query('SELECT status FROM simulation_jobs WHERE job_id = $1', [jobId]);
    expect(rows).toEqual([{ status: 'timed_out' }]);
  });
});
