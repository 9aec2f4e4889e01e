import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { execa } from 'execa';
import type { SimulationJobInput, SimulationJobResult } from '../src/shared/simulation/schemas.js';
import { spawnWorkerProcess } from '../scripts/lib/worker-process.js';
import type { BenchContext } from './context.js';
import { writeWorkflowBundle } from './worker-bundle.js';
import { ratio } from './stats.js';
import { machineBusyMs, processCpuMs } from './cpu.js';
import { simulationJob } from '../src/workflows/index.js';

// Sweep case: the seed's job shape, 200 replicates × 20 parameter sets of a trivial replicate,
// once with in-process replicates (a function in the worker) and once with subprocess replicates
// (each a full step: own process group, fresh workspace, result file). Reported as replicates/s,
// wall time, and the ratio to the bare-SDK no-op activity rate measured earlier in this run (the
// ceiling of this server for one-activity-per-replicate designs). Targets (issue 14): the
// subprocess sweep at ≥ 200 replicates/s on a 2-core machine and ≥ 1.0× the bare no-op rate.

const REPLICATES = Number(process.env.BENCH_SWEEP_REPLICATES ?? 200);
const PARAMETERS = Number(process.env.BENCH_SWEEP_PARAMETERS ?? 20);
// One replicate in flight per parameter set: on two cores the worker's event loop (process
// starts, group checks) is the limit, and more replicates at once only add contention.
const CONCURRENCY = Number(process.env.BENCH_SWEEP_CONCURRENCY ?? 20);
const SWEEPS = process.env.BENCH_SWEEP_SWEEPS ? Number(process.env.BENCH_SWEEP_SWEEPS) : undefined;
const TARGET_RATE = 200;

// A constant script, not input: one printf to the result file.
const TRIVIAL_SH = 'printf \'{"value":%s}\' "$SHEPHERD_SEED" > "$SHEPHERD_RESULT_FILE"';

function job(jobId: string, replicate: SimulationJobInput['replicate']): SimulationJobInput {
  return {
    jobId,
    replicate,
    parameters: Array.from({ length: PARAMETERS }, (_, i) => ({ key: `p${i}`, values: { scale: i } })),
    replicates: REPLICATES,
    maxConcurrentReplicates: CONCURRENCY,
    maxConcurrentSweeps: SWEEPS,
    aggregate: { fields: ['value'], stats: ['count', 'mean', 'std', 'min', 'max'], percentiles: [5, 50, 95] },
    replicateRetry: { maximumAttempts: 2, initialInterval: '100ms' },
  };
}

/** REPLICATES × PARAMETERS runs of TRIVIAL_SH from `xargs -P CONCURRENCY`, each writing its own result file. */
async function plainSpawnerRate(dir: string): Promise<{ seconds: number; rate: number; cpuMs: number }> {
  mkdirSync(dir, { recursive: true });
  const n = REPLICATES * PARAMETERS;
  const each = `SHEPHERD_SEED=$1 SHEPHERD_RESULT_FILE=${dir}/$1.json; export SHEPHERD_SEED SHEPHERD_RESULT_FILE; ${TRIVIAL_SH}`;
  const cpu0 = machineBusyMs();
  const t0 = performance.now();
  await execa('xargs', ['-P', String(CONCURRENCY), '-n', '1', 'sh', '-c', each, 'replicate'], {
    input: Array.from({ length: n }, (_, i) => i).join('\n'),
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = (machineBusyMs() - cpu0) / n;
  if (readdirSync(dir).length !== n) throw new Error(`plain spawner wrote ${readdirSync(dir).length} of ${n} result files`);
  return { seconds, rate: n / seconds, cpuMs };
}

export async function benchSweep(ctx: BenchContext): Promise<void> {
  const taskQueue = `bench-sweep-${randomUUID().slice(0, 6)}`;
  const dataDir = path.join(ctx.workDir, 'sweep');
  const bundlePath = await writeWorkflowBundle(ctx.workDir, 'sweep-workflows.js');
  // The real worker entry point in its own process, from a pre-built bundle: no bundler in its
  // memory. Its programs are forked by its step spawner (a small helper process), not by it.
  const worker = spawnWorkerProcess({
    TEMPORAL_ADDRESS: ctx.address,
    TEMPORAL_NAMESPACE: 'default',
    DATABASE_URL: ctx.databaseUrl,
    SHEPHERD_TASK_QUEUE: taskQueue,
    SHEPHERD_DATA_DIR: dataDir,
    SHEPHERD_WORKFLOW_BUNDLE: bundlePath,
    SHEPHERD_MAX_CONCURRENT_ACTIVITIES: '100',
    SHEPHERD_LOG_LEVEL: 'info',
    SHEPHERD_SHUTDOWN_GRACE: '5s',
  });
  await worker.ready;
  try {
    const run = async (name: string, replicate: SimulationJobInput['replicate']) => {
      const jobId = `bench-${name}-${randomUUID().slice(0, 6)}`;
      const cpu0 = machineBusyMs();
      const worker0 = processCpuMs(worker.pid);
      const t0 = performance.now();
      const result = (await ctx.client.workflow.execute(simulationJob, {
        taskQueue,
        workflowId: `simulation-${jobId}`,
        args: [job(jobId, replicate)],
      })) as SimulationJobResult;
      const seconds = (performance.now() - t0) / 1000;
      const cpuMs = (machineBusyMs() - cpu0) / (REPLICATES * PARAMETERS);
      const workerCpuMs = (processCpuMs(worker.pid) - worker0) / (REPLICATES * PARAMETERS);
      if (result.status !== 'completed' || result.totals.succeeded !== REPLICATES * PARAMETERS) {
        throw new Error(`sweep ${name} did not complete cleanly: ${JSON.stringify(result.totals)}`);
      }
      return { seconds, rate: (REPLICATES * PARAMETERS) / seconds, cpuMs, workerCpuMs };
    };

    // Warm-up: bundle loaded, module imported, pool connections open.
    await run('warm', { module: 'bench/sweep-replicate.mjs', export: 'simulate' });

    const label = `sweep: ${REPLICATES} replicates × ${PARAMETERS} parameter sets`;
    const inProc = await run('inproc', { module: 'bench/sweep-replicate.mjs', export: 'simulate' });
    ctx.report(`${label}, in-process`, 'wall time', inProc.seconds, 's');
    ctx.report(`${label}, in-process`, 'replicates/s', inProc.rate);
    ctx.report(`${label}, in-process`, 'ratio vs bare no-op activities/s', ratio(inProc.rate, ctx.baseline.noopActivitiesPerSec), 'x');

    // The machine's own limit: the same commands from a plain spawner, no Temporal, no workspaces.
    const plain = await plainSpawnerRate(path.join(ctx.workDir, 'xargs'));
    ctx.report(`${label}, plain xargs -P${CONCURRENCY} (no Temporal)`, 'wall time', plain.seconds, 's');
    ctx.report(`${label}, plain xargs -P${CONCURRENCY} (no Temporal)`, 'commands/s', plain.rate);
    ctx.report(`${label}, plain xargs -P${CONCURRENCY} (no Temporal)`, 'machine CPU per command', plain.cpuMs, 'ms');

    const sub = await run('subprocess', { command: 'sh', args: ['-c', TRIVIAL_SH] });
    ctx.report(`${label}, subprocess`, 'wall time', sub.seconds, 's');
    ctx.report(`${label}, subprocess`, 'replicates/s', sub.rate);
    ctx.report(`${label}, subprocess`, 'ratio vs bare no-op activities/s', ratio(sub.rate, ctx.baseline.noopActivitiesPerSec), 'x');
    ctx.report(`${label}, subprocess`, 'fraction of the plain spawner rate', ratio(sub.rate, plain.rate), 'x');
    // Wall-clock rates here swing by half from run to run; the CPU a replicate costs the whole
    // machine (server, database, worker, spawner, programs) moves far less.
    ctx.report(`${label}, subprocess`, 'machine CPU per replicate', sub.cpuMs, 'ms');
    ctx.report(`${label}, subprocess`, 'machine CPU per replicate vs per plain command', ratio(sub.cpuMs, plain.cpuMs), 'x');
    // The worker's share: its event loop is where a replicate's bookkeeping runs.
    ctx.report(`${label}, subprocess`, "worker's CPU per replicate", sub.workerCpuMs, 'ms');
    ctx.report(`${label}, subprocess`, `target ≥ ${TARGET_RATE} replicates/s`, sub.rate >= TARGET_RATE ? 'met' : 'MISSED');
    const bareRatio = sub.rate / ctx.baseline.noopActivitiesPerSec;
    ctx.report(`${label}, subprocess`, 'target ≥ 1.0× the bare no-op rate', bareRatio >= 1 ? 'met' : 'MISSED');
    // Each subprocess replicate forks the worker, and fork time grows with the worker's memory.
    const rssKb = Number((await execa('ps', ['-o', 'rss=', '-p', String(worker.pid)], { reject: false })).stdout.trim());
    if (rssKb > 0) ctx.report(`${label}, subprocess`, 'worker resident memory', rssKb / 1024, 'MiB');
  } finally {
    worker.kill('SIGTERM');
    await worker.exited;
  }
}
