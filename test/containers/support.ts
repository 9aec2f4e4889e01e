import { bundleOptions } from '../../src/workers/bundle-options.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, type Worker } from '@temporalio/worker';
import type Docker from 'dockerode';
import { inject } from 'vitest';
import { ensureContainerRuntime, type ContainerRuntime } from '../../scripts/lib/containers/index.js';
import { dockerClient } from '../../src/activities/containers/client.js';
import { createLogger } from '../../src/config/logger.js';
import { createPool } from '../../src/db/pool.js';
import type { ActivityDeps } from '../../src/activities/deps.js';
import { createShepherdWorker } from '../../src/workers/create-worker.js';
import { connectTestClient, tempDir, uniqueQueue } from '../support/harness.js';
import type { Client } from '@temporalio/client';

// Real containers for tests: the project's own set-up (podman installed, configured and served,
// or the DOCKER_HOST daemon as is) and the node runtime image, then a worker whose bundle holds
// the test workflows of ./workflows.ts next to every Shepherd workflow's activities.

let runtime: Promise<ContainerRuntime> | undefined;

/** Makes the container runtime available (idempotent; fast once set up). */
export function ensureTestContainers(): Promise<ContainerRuntime> {
  runtime ??= ensureContainerRuntime({ log: () => undefined });
  return runtime;
}

export function testDocker(): Docker {
  return dockerClient();
}

export const FIXTURE_APP = path.relative(process.cwd(), fileURLToPath(new URL('./fixtures/app', import.meta.url)));

let bundlePath: Promise<string> | undefined;
export function probeBundle(): Promise<string> {
  bundlePath ??= (async () => {
    const { code } = await bundleWorkflowCode({
      ...bundleOptions,
      workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
    });
    const file = path.join(tempDir('container-bundle'), 'bundle.js');
    writeFileSync(file, code);
    return file;
  })();
  return bundlePath;
}

export interface ContainerTestWorker {
  worker: Worker;
  client: Client;
  taskQueue: string;
  deps: ActivityDeps;
  running: Promise<void>;
  stop(): Promise<void>;
}

export async function startContainerWorker(opts: { shutdownGraceTime?: `${number}s` } = {}): Promise<ContainerTestWorker> {
  const address = inject('temporalAddress');
  const taskQueue = uniqueQueue('containers');
  const dataDir = tempDir('container-worker');
  const pool = createPool(inject('databaseUrl'));
  const deps: ActivityDeps = {
    pool,
    runsDir: path.join(dataDir, 'runs'),
    procDir: path.join(dataDir, 'procs'),
    logger: createLogger(process.env.SHEPHERD_LOG_LEVEL ?? 'error', 'container-test-worker'),
    projectDir: process.cwd(),
  };
  const connection = await NativeConnection.connect({ address });
  const worker = await createShepherdWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps,
    workflowBundle: { codePath: await probeBundle() },
    shutdownGraceTime: opts.shutdownGraceTime ?? '2s',
  });
  const running = worker.run();
  const { client, connection: clientConnection } = await connectTestClient(address);
  let stopped = false;
  return {
    worker,
    client,
    taskQueue,
    deps,
    running,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
      await clientConnection.close();
      await pool.end();
    },
  };
}

/** Containers carrying `label=value`, running or not. */
export async function containersLabelled(label: string, value: string): Promise<Docker.ContainerInfo[]> {
  return testDocker().listContainers({ all: true, filters: { label: [`${label}=${value}`] } });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
