import { bundleOptions } from '../src/workers/bundle-options.js';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import type Docker from 'dockerode';
import { dockerClient } from '../src/activities/containers/client.js';
import { probeHttp } from '../src/activities/containers/health.js';
import { ensureImageFromDirectory } from '../src/activities/containers/images.js';
import { createShepherdWorker } from '../src/workers/create-worker.js';
import { ensureContainerRuntime } from '../scripts/lib/containers/index.js';
import type { BenchContext } from './context.js';
import { ratio, summarize } from './stats.js';

// Container start-to-healthy overhead: Shepherd's holdAppContainer through Temporal (workflow
// start → activity → network, create, start, published port, health polling → ready signal back
// in the workflow) against a bare dockerode loop doing the same runtime work (network, create,
// start, inspect the port, poll health every 50 ms) in the same run, interleaved so machine
// noise hits both alike. A case for bench/run.ts (or bench/analysis.ts), or standalone:
// `npx tsx bench/analysis-containers.ts` (starts its own dev server).

const N = Number(process.env.BENCH_CONTAINER_N ?? 5);
const APP = fileURLToPath(new URL('../test/containers/fixtures/app', import.meta.url));
const WORKFLOWS = fileURLToPath(new URL('./analysis-containers-workflows.ts', import.meta.url));

async function bareStartToHealthy(docker: Docker, image: string): Promise<number> {
  const t0 = performance.now();
  const tag = randomUUID().slice(0, 8);
  const network = `bench-bare-${tag}`;
  await docker.createNetwork({ Name: network, Driver: 'bridge' });
  const c = await docker.createContainer({
    name: `bench-bare-${tag}`,
    Image: image,
    Labels: { 'shepherd.bench': 'bare' },
    ExposedPorts: { '8080/tcp': {} },
    HostConfig: { Init: true, NetworkMode: network, PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  try {
    await c.start();
    const port = Number((await c.inspect()).NetworkSettings.Ports['8080/tcp']![0]!.HostPort);
    while (!(await probeHttp('127.0.0.1', port, '/health', 2000)).healthy) await new Promise((r) => setTimeout(r, 50));
    return performance.now() - t0;
  } finally {
    await c.remove({ force: true });
    await docker
      .getNetwork(network)
      .remove()
      .catch(() => undefined);
  }
}

export async function benchAnalysisContainers(ctx: BenchContext): Promise<void> {
  const rt = await ensureContainerRuntime({ log: () => undefined });
  const docker = dockerClient(rt.dockerHost);
  const image = (await ensureImageFromDirectory(docker, APP, 'node')).image;
  const bundle = await bundleWorkflowCode({
    ...bundleOptions,
    workflowsPath: WORKFLOWS,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } as never,
  });
  const taskQueue = `bench-containers-${randomUUID().slice(0, 6)}`;
  const worker = await createShepherdWorker({
    connection: ctx.connection,
    namespace: 'default',
    taskQueue,
    deps: ctx.deps,
    workflowBundle: bundle,
  });
  const running = worker.run();
  const shepherd: number[] = [];
  const bare: number[] = [];
  try {
    const once = async () => {
      const workflowId = `bench-hold-${randomUUID().slice(0, 8)}`;
      const h = await ctx.client.workflow.start('benchHoldToReady', {
        taskQueue,
        workflowId,
        args: [{ spec: { image, port: 8080, healthPath: '/health' }, workflowId, runId: '' }],
      });
      return (await h.result()).readyAfterMs;
    };
    await once(); // warm-up: worker caches, image layers, network code paths
    await bareStartToHealthy(docker, image);
    for (let i = 0; i < N; i++) {
      shepherd.push(await once());
      bare.push(await bareStartToHealthy(docker, image));
    }
  } finally {
    worker.shutdown();
    await running;
  }
  const s = summarize(shepherd);
  const b = summarize(bare);
  const name = `analysis: container start-to-healthy (${rt.kind === 'podman' ? 'podman' : rt.dockerHost})`;
  ctx.report(name, 'Shepherd holdAppContainer p50 / mean', `${s.p50.toFixed(0)} / ${s.mean.toFixed(0)} ms (n=${s.n})`);
  ctx.report(name, 'bare dockerode create/start/health p50 / mean', `${b.p50.toFixed(0)} / ${b.mean.toFixed(0)} ms (n=${b.n})`);
  ctx.report(name, 'overhead ratio (p50 Shepherd / p50 bare)', ratio(s.p50, b.p50), 'x');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { mkdtempSync } = await import('node:fs');
  const os = await import('node:os');
  const { Client, Connection } = await import('@temporalio/client');
  const { NativeConnection } = await import('@temporalio/worker');
  const { startDevServer } = await import('../scripts/lib/dev-server.js');
  const { openDatabase } = await import('../src/db/open.js');
  const { createLogger } = await import('../src/config/logger.js');
  const logger = createLogger(process.env.SHEPHERD_LOG_LEVEL ?? 'error', 'bench');
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'shepherd-bench-containers-'));
  const server = await startDevServer({ logFile: path.join(workDir, 'temporal.log') });
  // `DATABASE_URL=` means unset, as it does for the worker (loadEnv).
  const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL || undefined, dataDir: path.join(workDir, 'data'), logger });
  const connection = await NativeConnection.connect({ address: server.address });
  const clientConnection = await Connection.connect({ address: server.address });
  const rows: string[] = [];
  try {
    await benchAnalysisContainers({
      address: server.address,
      client: new Client({ connection: clientConnection }),
      connection,
      pool: db.pool,
      databaseUrl: db.url,
      workDir,
      deps: { pool: db.pool, runsDir: path.join(workDir, 'runs'), procDir: path.join(workDir, 'procs'), logger, projectDir: process.cwd() },
      baseline: { noopActivityP50Ms: NaN, noopActivityP99Ms: NaN, noopActivitiesPerSec: NaN },
      report: (c, m, v, unit = '') => rows.push(`${c} | ${m} | ${typeof v === 'number' ? v.toFixed(2) : v}${unit ? ` ${unit}` : ''}`),
    });
  } finally {
    await clientConnection.close();
    await connection.close();
    await db.close();
    await server.stop();
  }
  console.log(rows.join('\n'));
}
