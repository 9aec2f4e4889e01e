import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNodeImage } from '../../src/activities/containers/images.js';
import { ownerLabels, OWNER_LABEL, WORKFLOW_LABEL } from '../../src/activities/containers/labels.js';
import { prepareContainerRuntime } from '../../src/activities/containers/index.js';
import { createLogger } from '../../src/config/logger.js';
import { readStat } from '../../src/activities/step/proc-stats.js';
import { connectTestClient, tempDir, uniqueQueue } from '../support/harness.js';
import { spawnWorkerProcess } from '../support/worker-process.js';
import type { ProbeState } from './workflows.js';
import { containersLabelled, ensureTestContainers, FIXTURE_APP, probeBundle, testDocker, waitFor } from './support.js';
import { ensureImageFromDirectory } from '../../src/activities/containers/images.js';

// A SIGKILLed worker cannot clean up, so two things do it for it: its watchdog (a detached
// process blocked on a pipe only the worker holds) removes its containers at once, and any
// worker starting later removes containers whose labelled owner is provably dead.

let nodeImage: string;
beforeAll(async () => {
  await ensureTestContainers();
  nodeImage = (await ensureNodeImage(testDocker())).image;
});

function watchdogsOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
        return cmd.includes('watchdog-main.mjs') && cmd.includes(`/${pid}/`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('containers of a dead worker', () => {
  const conn = connectTestClient();
  afterAll(async () => (await conn).connection.close());

  it('SIGKILL of the real worker process: its watchdog removes its containers, then exits', async () => {
    const { client } = await conn;
    const image = await ensureImageFromDirectory(testDocker(), path.resolve(FIXTURE_APP), 'node');
    const taskQueue = uniqueQueue('container-crash');
    const worker = spawnWorkerProcess({
      taskQueue,
      dataDir: tempDir('crash-worker'),
      env: { SHEPHERD_WORKFLOW_BUNDLE: await probeBundle() },
    });
    const workflowId = `crash-${randomUUID()}`;
    try {
      await worker.ready;
      const handle = await client.workflow.start('containerHoldProbe', {
        taskQueue,
        workflowId,
        args: [{ spec: { image: image.image, port: 8080, healthPath: '/health' } }],
      });
      await waitFor('the app to be held', async () => (await handle.query<ProbeState>('probeState')).address, 90_000);
      const [c] = await containersLabelled(WORKFLOW_LABEL, workflowId);
      expect(c!.Labels[OWNER_LABEL]).toBe(`${os.hostname()}/${worker.pid}/${readStat(worker.pid)!.startTime}`);
      expect(watchdogsOf(worker.pid)).toHaveLength(1);

      worker.kill('SIGKILL');
      await worker.exited;
      await waitFor(
        'the watchdog to remove the container',
        async () => (await containersLabelled(WORKFLOW_LABEL, workflowId)).length === 0,
        30_000,
      );
      await waitFor('the watchdog to exit', async () => watchdogsOf(worker.pid).length === 0, 30_000);
      await handle.terminate().catch(() => undefined);
    } finally {
      worker.kill('SIGKILL');
    }
  });

  it("a worker starting up removes containers whose owner is dead, and keeps live owners'", async () => {
    // A real, finished process stands in for the dead worker: same host, its pid and start time.
    const dead = spawn('sleep', ['30']);
    const deadStart = await waitFor('the stand-in to start', async () => readStat(dead.pid!)?.startTime);
    dead.kill('SIGKILL');
    await new Promise((r) => dead.once('exit', r));
    const live = readStat(1)!;
    const host = os.hostname();
    const mk = async (pid: number, startTime: number, tag: string) => {
      const c = await testDocker().createContainer({
        name: `shepherd-reap-${tag}-${randomUUID().slice(0, 8)}`,
        Image: nodeImage,
        Cmd: ['sleep', '300'],
        Labels: { ...ownerLabels({ host, pid, startTime, id: `${host}/${pid}/${startTime}` }), [WORKFLOW_LABEL]: `reap-${tag}` },
        HostConfig: { Init: true, NetworkMode: 'none' },
      });
      await c.start();
      return c;
    };
    const orphan = await mk(dead.pid!, deadStart, 'dead');
    const kept = await mk(1, live.startTime, 'live');
    try {
      await prepareContainerRuntime({ logger: createLogger('error', 'reaper-test') });
      await expect(orphan.inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect((await kept.inspect()).State.Running).toBe(true);
    } finally {
      await kept.remove({ force: true });
      await orphan.remove({ force: true }).catch(() => undefined);
    }
  });
});
