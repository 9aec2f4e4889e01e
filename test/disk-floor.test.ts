import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diskState } from '../src/activities/step/disk-floor.js';
import { freeBytes } from '../src/activities/step/disk-floor.js';
import { startExperimentBatch } from '../src/client/experiments.js';
import { loadEnv } from '../src/config/env.js';
import { experimentRunWorkflowId } from '../src/shared/experiments/workflow-ids.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';
import { waitFor } from './support/procs.js';
import { shJob, startSimulation, writeReplicateScript } from './support/simulation.js';
import { sweepWorkflowId } from '../src/shared/simulation/workflow-ids.js';
import { batchResult } from '../src/client/outcome.js';
import type { SimulationJobResult } from '../src/shared/simulation/schemas.js';

// The data-dir disk floor (SHEPHERD_DISK_FLOOR). The floor is configured above the real free
// space of the test machine's disk (statfs is not mocked): a command step must not start, must
// say why in its heartbeat, and must start once the floor is lowered.

let w: TestWorker;
const TiB = 2 ** 40;

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(() => w?.stop());

/** The `waiting` reason in the heartbeat details of the workflow's pending step, once there. */
async function waitingReason(workflowId: string): Promise<string> {
  const child = w.client.workflow.getHandle(workflowId);
  return waitFor(async () => {
    const d = await child.describe().catch(() => undefined);
    const details = d?.raw.pendingActivities?.[0]?.heartbeatDetails;
    if (!details?.payloads?.length) return undefined;
    const beat = w.client.options.loadedDataConverter.payloadConverter.fromPayload(details.payloads[0]!) as { waiting?: string };
    return beat.waiting;
  }, 'the waiting heartbeat');
}

describe('disk floor', () => {
  it('parses bytes and percentages from the environment, naming the variable when wrong', async () => {
    expect(loadEnv({}).hygiene.diskFloor).toEqual({ bytes: 2 ** 30 });
    expect(loadEnv({ SHEPHERD_DISK_FLOOR: '5%' }).hygiene.diskFloor).toEqual({ percent: 5 });
    expect(loadEnv({ SHEPHERD_DISK_FLOOR: '500MB' }).hygiene.diskFloor).toEqual({ bytes: 500e6 });
    expect(() => loadEnv({ SHEPHERD_DISK_FLOOR: 'lots' })).toThrow(/SHEPHERD_DISK_FLOOR/);
    expect(() => loadEnv({ SHEPHERD_DISK_FLOOR: '100%' })).toThrow(/SHEPHERD_DISK_FLOOR/);
    // A percentage of the real filesystem: 99.99% is above what any working disk has free.
    const free = await freeBytes(w.deps.procDir.replace(/procs$/, ''));
    const pct = await diskState(w.deps.runsDir, { percent: 99.99 });
    expect(pct.underFloor).toBe(true);
    expect(pct.floorBytes).toBeGreaterThan(free);
    expect((await diskState(w.deps.runsDir, { percent: 0 })).underFloor).toBe(false);
  });

  it('a command step under the floor does not start, heartbeats the reason, and starts once the floor is lowered', async () => {
    const dataDir = path.dirname(w.deps.runsDir);
    w.deps.diskFloor = { bytes: (await freeBytes(dataDir)) + TiB };
    const batchId = `floor-${randomUUID().slice(0, 8)}`;
    const handle = await startExperimentBatch(
      w.client,
      { batchId, experiments: [nodeExperiment('one', 'done({ accuracy: 1 })')], notify: false },
      { taskQueue: w.taskQueue },
    );
    const waiting = await waitingReason(experimentRunWorkflowId(batchId, 'one'));
    expect(waiting).toMatch(/disk floor: .* free at .*, under the floor of .* \(SHEPHERD_DISK_FLOOR\)/);
    expect(waiting).toContain(w.deps.runsDir);
    expect(existsSync(w.deps.runsDir) && readdirSync(w.deps.runsDir).length > 0, 'no workspace prepared: the step has not started').toBe(
      false,
    );

    w.deps.diskFloor = { bytes: 0 };
    const result = await handle.result();
    expect(result.succeeded).toBe(1);
  });

  it('a simulation replicate batch under the floor starts no replicate, heartbeats the reason, and runs once the floor is lowered', async () => {
    const dataDir = path.dirname(w.deps.runsDir);
    w.deps.diskFloor = { bytes: (await freeBytes(dataDir)) + TiB };
    const jobId = `floor-sim-${randomUUID().slice(0, 8)}`;
    const handle = await startSimulation(
      w.client,
      w.taskQueue,
      shJob(writeReplicateScript(), { jobId, parameters: [{ key: 'a', values: { mode: 'ok' } }], replicates: 3 }),
    );
    const waiting = await waitingReason(sweepWorkflowId(jobId, 'a'));
    expect(waiting).toMatch(/disk floor: .* free at .*, under the floor of .* \(SHEPHERD_DISK_FLOOR\)/);
    const { rows } = await w.pool.query('SELECT 1 FROM simulation_replicates WHERE job_id = $1', [jobId]);
    expect(rows, 'no replicate ran under the floor').toEqual([]);

    w.deps.diskFloor = { bytes: 0 };
    const result = await batchResult<SimulationJobResult>(handle);
    expect(result.totals).toMatchObject({ succeeded: 3, failed: 0 });
    w.deps.diskFloor = undefined;
  });

  it('a step waiting under the floor is cancelled at once when its workflow is, without a workspace', async () => {
    w.deps.diskFloor = { percent: 99.99 };
    const batchId = `floor-cancel-${randomUUID().slice(0, 8)}`;
    const handle = await startExperimentBatch(
      w.client,
      { batchId, experiments: [nodeExperiment('c', 'done({ accuracy: 1 })')], notify: false },
      { taskQueue: w.taskQueue },
    );
    const childId = experimentRunWorkflowId(batchId, 'c');
    await waitingReason(childId);
    await w.client.workflow.getHandle(childId).cancel();
    await handle.result().catch(() => undefined);
    const history = await w.client.workflow.getHandle(childId).fetchHistory();
    expect(history.events?.some((e) => e.activityTaskCanceledEventAttributes)).toBe(true);
    expect(existsSync(path.join(w.deps.runsDir, encodeURIComponent(childId)))).toBe(false);
    w.deps.diskFloor = undefined;
  });

  it('a step still under the floor at its attempt deadline fails with the retryable type DiskFloor, saying free vs floor and where', async () => {
    w.deps.diskFloor = { percent: 99.99 };
    const batchId = `floor-late-${randomUUID().slice(0, 8)}`;
    const handle = await startExperimentBatch(
      w.client,
      {
        batchId,
        retry: { maximumAttempts: 1 },
        experiments: [nodeExperiment('late', 'done({ accuracy: 1 })', { timeout: '3s' })],
        notify: false,
      },
      { taskQueue: w.taskQueue },
    );
    await handle.result().catch(() => undefined);
    const history = await w.client.workflow.getHandle(experimentRunWorkflowId(batchId, 'late')).fetchHistory();
    const failure = history.events?.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
    expect(failure?.applicationFailureInfo?.type).toBe('DiskFloor');
    expect(failure?.applicationFailureInfo?.nonRetryable).toBeFalsy();
    expect(failure?.message).toMatch(/free at .*runs, under the floor of/);
    w.deps.diskFloor = undefined;
  });
});
