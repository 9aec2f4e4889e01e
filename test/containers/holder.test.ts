import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageRef } from '../../src/shared/containers.js';
import { ensureImageFromDirectory } from '../../src/activities/containers/images.js';
import {
  WORKFLOW_LABEL,
  OWNER_LABEL,
  TOKEN_LABEL,
  ACTIVITY_LABEL,
  ATTEMPT_LABEL,
  RUN_LABEL,
} from '../../src/activities/containers/labels.js';
import { analysisNetworkName } from '../../src/activities/containers/holder.js';
import type { ProbeState } from './workflows.js';
import {
  containersLabelled,
  ensureTestContainers,
  FIXTURE_APP,
  startContainerWorker,
  testDocker,
  waitFor,
  type ContainerTestWorker,
} from './support.js';

// holdAppContainer against a real runtime: a healthy app is reachable at the address the runtime
// reports; an app that never gets healthy, or listens on another port, fails AppUnhealthy with
// the reason (never "ready"); cancellation and worker shutdown leave no container or network.

let w: ContainerTestWorker;
let image: ImageRef;

beforeAll(async () => {
  await ensureTestContainers();
  image = await ensureImageFromDirectory(testDocker(), path.resolve(FIXTURE_APP), 'node');
  w = await startContainerWorker();
});
afterAll(async () => {
  await w?.stop();
});

function get(port: number, pathname: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

async function startProbe(spec: Record<string, unknown>, worker = w) {
  const workflowId = `hold-${randomUUID()}`;
  const handle = await worker.client.workflow.start('containerHoldProbe', {
    taskQueue: worker.taskQueue,
    workflowId,
    args: [{ spec: { image: image.image, ...spec } }],
  });
  return { handle, workflowId };
}

const held = (handle: Awaited<ReturnType<typeof startProbe>>['handle']) =>
  waitFor('the holder to signal its address', async () => {
    const s = await handle.query<ProbeState>('probeState');
    if (s.failure) throw new Error(`holder failed: ${s.failure.message}`);
    return s.address;
  });

describe('holdAppContainer', () => {
  it('starts the app, waits for health, signals an address that serves it, and removes it on release', async () => {
    const { handle, workflowId } = await startProbe({ port: 8080, healthPath: '/health', limits: { memoryMb: 256, cpus: 0.5 } });
    const address = await held(handle);
    expect(address.host.host).toBe('127.0.0.1');
    const res = await get(address.host.port, '/hello');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).hello).toBe('from the container');
    expect(address.network).toEqual({ name: analysisNetworkName(workflowId), host: address.name, port: 8080 });

    const [c] = await containersLabelled(WORKFLOW_LABEL, workflowId);
    expect(c!.Id).toBe(address.containerId);
    expect(c!.State).toBe('running');
    for (const l of [OWNER_LABEL, RUN_LABEL, ACTIVITY_LABEL, TOKEN_LABEL]) expect(c!.Labels[l]).toBeTruthy();
    expect(c!.Labels[ATTEMPT_LABEL]).toBe('1');
    const info = await testDocker().getContainer(c!.Id).inspect();
    expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(5e8);
    // Container-to-container DNS on the per-analysis network: a step container reaches the app by name.
    const peer = await w.client.workflow.execute('containerStepProbe', {
      taskQueue: w.taskQueue,
      workflowId: `peer-${randomUUID()}`,
      args: [
        {
          step: {
            image: image.image,
            cmd: ['wget', '-qO-', `http://${address.network!.host}:${address.network!.port}/hello`],
            timeout: '30s',
            network: address.network!.name,
          },
        },
      ],
    });
    expect(peer.failure).toBeUndefined();
    expect((peer.result as { logTail: string[] }).logTail.join('\n'), JSON.stringify(peer)).toContain('from the container');

    await handle.signal('release');
    const end = await handle.result();
    expect(end.failure).toBeUndefined();
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
    const nets = await testDocker().listNetworks({ filters: { name: [analysisNetworkName(workflowId)] } });
    expect(nets.filter((n) => n.Name === analysisNetworkName(workflowId))).toEqual([]);
  });

  it('an app that never becomes healthy fails AppUnhealthy with the reason and the log tail', async () => {
    const { handle, workflowId } = await startProbe({
      port: 8080,
      healthPath: '/health',
      healthTimeout: '4s',
      env: { NEVER_HEALTHY: '1' },
    });
    const end = await handle.result();
    expect(end.address).toBeUndefined();
    expect(end.failure?.type).toBe('AppUnhealthy');
    expect(end.failure?.message).toContain('HTTP 503');
    expect(end.failure?.message).toContain('listening on 8080');
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it('a wrong port is unhealthy, never ready', async () => {
    const { handle, workflowId } = await startProbe({ port: 3000, healthPath: '/health', healthTimeout: '4s' });
    const end = await handle.result();
    expect(end.address).toBeUndefined();
    expect(end.failure?.type).toBe('AppUnhealthy');
    expect(end.failure?.message).toMatch(/did not answer 2xx\/3xx within 4s/);
    expect(end.failure?.message).toContain('port 3000');
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it('an app that exits while held fails AppContainerExited with its exit code', async () => {
    const { handle, workflowId } = await startProbe({
      port: 8080,
      healthPath: '/health',
      cmd: ['node', '-e', "require('./server.js'); setTimeout(() => { console.log('bye'); process.exit(3) }, 1500)"],
    });
    const end = await handle.result();
    expect(end.failure?.type).toBe('AppContainerExited');
    expect(end.failure?.message).toContain('exited with code 3');
    expect(end.failure?.message).toContain('bye');
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it('cancelling the owning workflow stops and removes the container', async () => {
    const { handle, workflowId } = await startProbe({ port: 8080, healthPath: '/health' });
    await held(handle);
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toHaveLength(1);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
  });

  it('worker shutdown cancels the holder, which removes its container before the worker stops', async () => {
    const own = await startContainerWorker({ shutdownGraceTime: '1s' });
    try {
      const { handle, workflowId } = await startProbe({ port: 8080, healthPath: '/health' }, own);
      await held(handle);
      const [c] = await containersLabelled(WORKFLOW_LABEL, workflowId);
      const logDir = path.join(own.deps.runsDir, encodeURIComponent(workflowId));
      own.worker.shutdown();
      await own.running;
      expect(await containersLabelled(WORKFLOW_LABEL, workflowId)).toEqual([]);
      await expect(testDocker().getContainer(c!.Id).inspect()).rejects.toMatchObject({ statusCode: 404 });
      // Its output was captured into the attempt's workspace.
      const attemptDir = path.join(logDir, '1', '1');
      expect(existsSync(path.join(attemptDir, 'stdout.log'))).toBe(true);
      expect(readFileSync(path.join(attemptDir, 'stdout.log'), 'utf8')).toContain('listening on 8080');
      await handle.terminate().catch(() => undefined);
    } finally {
      await own.stop();
    }
  });
});
