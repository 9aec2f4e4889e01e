import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { startAnalysisPipeline } from '../src/client/analysis.js';
import type { AnalysisPipelineInput } from '../src/shared/analysis/input.js';
import { createShepherdWorker } from '../src/workers/create-worker.js';
import { ensureContainerRuntime } from '../scripts/lib/containers/index.js';
import { stopDaemon } from '../scripts/lib/containers/service.js';
import { ensureAnalyzerTools } from '../scripts/lib/analyzers.js';
import { benchAnalysisContainers } from './analysis-containers.js';
import type { BenchContext } from './context.js';

// Analysis case: (1) container start-to-healthy overhead through Shepherd vs a bare Engine-API
// loop (RUNTIME's case, same run), then (2) targets analysed per minute: the example pipeline
// without the AI review (four real apps in real containers; ESLint, nmap, autocannon), once with
// a cold image cache and warm-up, then measured with cached images, at concurrency 1 and 2.
// The wall time is the pipeline workflow's, start to result.

const EXAMPLE = 'examples/analysis/four-apps-no-llm.json';
const ROUNDS = Number(process.env.BENCH_ANALYSIS_ROUNDS ?? 1);

export async function benchAnalysis(ctx: BenchContext): Promise<void> {
  const runtime = await ensureContainerRuntime({ log: () => undefined });
  try {
    await ensureAnalyzerTools(() => undefined);
    await benchAnalysisContainers(ctx);
    await benchPipeline(ctx);
  } finally {
    // A container service this case started is stopped with it (one already running is left alone).
    if (runtime.startedPid !== undefined) await stopDaemon(runtime.dockerHost, () => undefined);
  }
}

/** Targets analysed per minute by the example pipeline, at concurrency 1 and 2. */
async function benchPipeline(ctx: BenchContext): Promise<void> {
  const base = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as AnalysisPipelineInput;
  const taskQueue = `bench-analysis-${randomUUID().slice(0, 6)}`;
  const worker = await createShepherdWorker({ connection: ctx.connection, namespace: 'default', taskQueue, deps: ctx.deps });
  const running = worker.run();
  try {
    const run = async (label: string, concurrency: number) => {
      const input = { ...base, pipelineId: `bench_${label}_${randomUUID().slice(0, 6)}`, concurrency, notify: false };
      const t0 = performance.now();
      const h = await startAnalysisPipeline(ctx.client, input, { taskQueue });
      const r = await h.result();
      const seconds = (performance.now() - t0) / 1000;
      if (r.counts.completed + r.counts.partial !== base.targets.length) {
        throw new Error(`analysis bench ${label}: not every target was analysed: ${JSON.stringify(r.counts)}`);
      }
      return { seconds, perMinute: (base.targets.length / seconds) * 60, findings: r.findings };
    };
    await run('warm', 2); // image builds, tool start-up caches, first connections
    for (const concurrency of [1, 2]) {
      const results = [];
      for (let i = 0; i < ROUNDS; i++) results.push(await run(`c${concurrency}`, concurrency));
      const best = results.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
      const name = `analysis: ${base.targets.length} targets × ${base.analyzers.length} analyzers, concurrency ${concurrency}`;
      ctx.report(name, 'targets analysed per minute', best.perMinute, '/min');
      ctx.report(name, 'pipeline wall time', best.seconds, 's');
      ctx.report(name, 'findings stored', best.findings);
    }
  } finally {
    worker.shutdown();
    await running;
  }
}
