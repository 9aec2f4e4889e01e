import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { execa } from 'execa';
import { startDevServer } from '../scripts/lib/dev-server.js';
import { createLogger } from '../src/config/logger.js';
import { openDatabase } from '../src/db/open.js';
import type { ActivityDeps } from '../src/activities/deps.js';
import { createShepherdWorker } from '../src/workers/create-worker.js';
import { installSdkLogging } from '../src/workers/sdk-logging.js';
import { CASES } from './cases.js';
import type { BenchContext } from './context.js';
import { activityLatencies, fetchHistory } from './history-latency.js';
import { fmt, ratio, summarize } from './stats.js';

// `npm run bench`: Shepherd's overheads as ratios against a bare-SDK baseline measured in this
// same run on this same server, so machine noise cancels out instead of failing tests.
const STEPS = Number(process.env.BENCH_STEPS ?? 200);
const THROUGHPUT_N = Number(process.env.BENCH_THROUGHPUT ?? 400);
const only = process.argv.slice(2);
const wants = (name: string) => only.length === 0 || only.includes(name);

// Cases kill workers and end queues on purpose; only errors are worth printing over the report.
const logger = createLogger(process.env.SHEPHERD_LOG_LEVEL ?? 'error', 'bench');
installSdkLogging(logger, 'WARN');
const workDir = mkdtempSync(path.join(os.tmpdir(), 'shepherd-bench-'));
const server = await startDevServer({ logFile: path.join(workDir, 'temporal.log') });
// `DATABASE_URL=` means unset, as it does for the worker (loadEnv): the embedded database.
const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL || undefined, dataDir: path.join(workDir, 'data'), logger });
const connection = await NativeConnection.connect({ address: server.address });
const clientConnection = await Connection.connect({ address: server.address });
const client = new Client({ connection: clientConnection });
const bundle = await bundleWorkflowCode({
  workflowsPath: path.resolve('bench/workflows.ts'),
  logger: { ...console, log: () => undefined, info: () => undefined, debug: () => undefined, trace: () => undefined } as never,
});
const deps: ActivityDeps = {
  pool: db.pool,
  runsDir: path.join(workDir, 'runs'),
  procDir: path.join(workDir, 'procs'),
  logger,
  projectDir: process.cwd(),
};

const rows: { case: string; metric: string; value: string }[] = [];
const report: BenchContext['report'] = (c, metric, value, unit = '') =>
  rows.push({ case: c, metric, value: typeof value === 'number' ? `${Number(value.toFixed(3))}${unit ? ` ${unit}` : ''}` : value });

const noop = async () => undefined;
const bare = await Worker.create({
  connection,
  taskQueue: 'bench-bare',
  workflowBundle: bundle,
  activities: { noop, bareExeca: async () => void (await execa('true')) },
});
const shepherd = await createShepherdWorker({
  connection,
  namespace: 'default',
  taskQueue: 'bench-shepherd',
  deps,
  workflowBundle: bundle,
  extraActivities: { noop },
});

async function sequence(taskQueue: string, activity: string, arg: unknown, n = STEPS) {
  const workflowId = `bench-seq-${activity}-${randomUUID().slice(0, 6)}`;
  await client.workflow.execute('benchSequence', { taskQueue, workflowId, args: [activity, n, arg] });
  return summarize(activityLatencies(await fetchHistory(client, workflowId)));
}

async function throughput(taskQueue: string, activity: string, arg: unknown, n = THROUGHPUT_N, parallel = 20) {
  const t0 = performance.now();
  await client.workflow.execute('benchParallel', {
    taskQueue,
    workflowId: `bench-par-${randomUUID().slice(0, 6)}`,
    args: [activity, n, parallel, arg],
  });
  return n / ((performance.now() - t0) / 1000);
}

const NOOP_STEP = { command: 'true', args: [], resultRequired: false };
let baseline: BenchContext['baseline'] = { noopActivityP50Ms: NaN, noopActivityP99Ms: NaN, noopActivitiesPerSec: NaN };

const running = Promise.all([bare.run(), shepherd.run()]);
await Promise.race([
  running,
  (async () => {
    try {
      // Warm both paths (bundles loaded, connections up, JIT) before measuring.
      await sequence('bench-bare', 'noop', null, 20);
      await sequence('bench-shepherd', 'noop', null, 20);

      const bareNoop = await sequence('bench-bare', 'noop', null);
      const bareRate = await throughput('bench-bare', 'noop', null);
      baseline = { noopActivityP50Ms: bareNoop.p50, noopActivityP99Ms: bareNoop.p99, noopActivitiesPerSec: bareRate };
      report('baseline: bare SDK no-op activity', 'p50 / p99', `${fmt(bareNoop.p50)} / ${fmt(bareNoop.p99)}`);
      report('baseline: bare SDK no-op activity', 'throughput', bareRate, 'activities/s');

      if (wants('noop')) {
        const s = await sequence('bench-shepherd', 'noop', null);
        const rate = await throughput('bench-shepherd', 'noop', null);
        report('(a) no-op activity, Shepherd worker', 'p50 / p99', `${fmt(s.p50)} / ${fmt(s.p99)}`);
        report('(a) no-op activity, Shepherd worker', 'p50 ratio vs bare', ratio(s.p50, bareNoop.p50), 'x');
        report('(a) no-op activity, Shepherd worker', 'p99 ratio vs bare', ratio(s.p99, bareNoop.p99), 'x');
        report('(a) no-op activity, Shepherd worker', 'throughput ratio vs bare', ratio(rate, bareRate), 'x');
      }
      if (wants('command')) {
        await sequence('bench-bare', 'bareExeca', null, 10);
        await sequence('bench-shepherd', 'runCommand', NOOP_STEP, 10);
        const bareCmd = await sequence('bench-bare', 'bareExeca', null);
        const cmd = await sequence('bench-shepherd', 'runCommand', NOOP_STEP);
        report('(b) bare execa("true") in a bare activity', 'p50 / p99', `${fmt(bareCmd.p50)} / ${fmt(bareCmd.p99)}`);
        report('(b) no-op runCommand step', 'p50 / p99', `${fmt(cmd.p50)} / ${fmt(cmd.p99)}`);
        report('(b) no-op runCommand step', 'p50 ratio vs bare execa', ratio(cmd.p50, bareCmd.p50), 'x');
        report('(b) no-op runCommand step', 'p99 ratio vs bare execa', ratio(cmd.p99, bareCmd.p99), 'x');
        report('(b) no-op runCommand step', 'added per step (p50)', cmd.p50 - bareCmd.p50, 'ms');
      }
      const ctx: BenchContext = {
        ...{
          address: server.address,
          serverPid: server.pid,
          client,
          connection,
          pool: db.pool,
          databaseUrl: db.url,
          workDir,
          deps,
          baseline,
          report,
        },
        workers: { workflowBundle: bundle, bareTaskQueue: 'bench-bare', shepherdTaskQueue: 'bench-shepherd' },
      };
      for (const [name, load] of CASES) {
        if (!wants(name)) continue;
        try {
          const run = await load();
          await run(ctx);
        } catch (err) {
          // One failed case must not lose the figures of the others: it is reported, and the run
          // exits non-zero once the report is printed.
          report(name, 'FAILED', (err as Error).message ?? String(err));
          process.exitCode = 1;
        }
      }
    } finally {
      bare.shutdown();
      shepherd.shutdown();
    }
  })(),
]);

await running;
const width = Math.max(...rows.map((r) => r.case.length));
const mwidth = Math.max(...rows.map((r) => r.metric.length));
console.log(`\nShepherd benchmark (${STEPS} sequential steps per latency case; ${os.cpus().length} cores)\n`);
for (const r of rows) console.log(`${r.case.padEnd(width)}  ${r.metric.padEnd(mwidth)}  ${r.value}`);
await clientConnection.close();
await connection.close();
await db.close();
await server.stop();
rmSync(workDir, { recursive: true, force: true });
