import { checkMalformed, duplicateRows, strayContainers, strayProcesses, workflowTaskFailures, type InputOutcome } from './checks.js';
import { generateInputs } from './inputs.js';
import type { ChaosOptions } from './options.js';
import { kindFor, MIX, type Pipeline } from './pipelines.js';
import { passLine, type ChaosReport, type PipelineCount } from './report.js';
import { startFaults } from './scheduler.js';
import { startStack, type ChaosStack } from './stack.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Client calls are retried while the server is down for its scheduled restart. */
export async function withRetry<T>(fn: () => Promise<T>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const message = (err as Error).message ?? '';
      if (Date.now() > deadline || /already started|WorkflowExecutionAlreadyStarted/i.test(message)) throw err;
      await sleep(500);
    }
  }
}

async function launchPipelines(stack: ChaosStack, opts: ChaosOptions, skipped: Record<string, string>): Promise<Pipeline[]> {
  const spacing = (opts.minutes * 60_000 * 0.5) / Math.max(1, opts.pipelines);
  const started: Pipeline[] = [];
  const perKind: Record<string, number> = {};
  for (let n = 0; n < opts.pipelines; n++) {
    const kind = kindFor(n, perKind, skipped);
    if (!kind) break;
    perKind[kind.kind] = (perKind[kind.kind] ?? 0) + 1;
    started.push(await withRetry(() => kind.start(stack, n)));
    await sleep(spacing);
  }
  return started;
}

/** Kinds whose set-up failed here, with the reason (the report lists them). */
async function prepareKinds(log: (line: string) => void): Promise<Record<string, string>> {
  const skipped: Record<string, string> = {};
  for (const k of MIX) {
    const why = await k.prepare?.(log);
    if (why) skipped[k.kind] = why;
  }
  return skipped;
}

async function runInputs(stack: ChaosStack, opts: ChaosOptions): Promise<InputOutcome[]> {
  const inputs = generateInputs(opts.inputs);
  const results: InputOutcome[] = [];
  let next = 0;
  const lane = async () => {
    while (next < inputs.length) {
      const i = next++;
      const m = inputs[i]!;
      const id = `chaos-malformed-${stack.marker.slice(0, 6)}-${m.type}-${i}`;
      results.push(
        await withRetry(() => checkMalformed(stack.client, stack.taskQueue, m, id, 60_000)).catch((e: Error) => ({
          ...m,
          ok: false,
          problem: `check failed: ${e.message}`,
        })),
      );
    }
  };
  await Promise.all([lane(), lane(), lane()]);
  return results;
}

/** A failed pipeline is an outcome; an unreachable server is not (retried). */
export function settle(p: Pipeline): Promise<'completed' | 'failed'> {
  const ends = p.settle ? p.settle() : p.handle.result().then(() => 'completed' as const);
  return ends.catch((e: Error) => (/connect|unavailable|deadline/i.test(e.message) ? Promise.reject(e) : ('failed' as const)));
}

async function drain(pipelines: Pipeline[], drainMs: number): Promise<Record<string, PipelineCount>> {
  const counts: Record<string, PipelineCount> = {};
  const deadline = Date.now() + drainMs;
  await Promise.all(
    pipelines.map(async (p) => {
      const c = (counts[p.kind] ??= { started: 0, completed: 0, failed: 0, lost: [] });
      c.started++;
      const outcome = await Promise.race([
        withRetry(() => settle(p), drainMs),
        sleep(Math.max(0, deadline - Date.now())).then(() => 'lost' as const),
      ]).catch(() => 'lost' as const);
      if (outcome === 'lost') c.lost.push(p.workflowId);
      else c[outcome]++;
    }),
  );
  return counts;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log;
  // Before the stack: workers check the container runtime at start-up.
  const skipped = await prepareKinds(log);
  const stack = await startStack();
  const started = Date.now();
  let pipelines: Pipeline[] = [];
  try {
    for (let i = 0; i < opts.workers; i++) stack.spawnWorker();
    await Promise.all(stack.workers.map((w) => w.ready));
    log(`chaos: ${opts.workers} workers on ${stack.taskQueue}, server ${stack.server.address}, database ${stack.db.name}`);
    const chaos = startFaults(stack, { ...opts, restartAtMs: opts.restartServer ? (opts.minutes * 60_000) / 3 : undefined });
    const [launched, inputs] = await Promise.all([launchPipelines(stack, opts, skipped), runInputs(stack, opts)]);
    pipelines = launched;
    const remaining = opts.minutes * 60_000 - (Date.now() - started);
    if (remaining > 0 && chaos.faults.kills < opts.maxKills) await sleep(Math.min(remaining, opts.killEveryMs * 1.5));
    await chaos.stop();
    log(`chaos: faults over (${chaos.faults.kills} kills, ${chaos.faults.serverRestarts} server restarts); draining`);
    const counts = await drain(pipelines, opts.drainMs);
    const taskFailures: Record<string, string[]> = {};
    for (const p of pipelines) {
      const f = await withRetry(() => workflowTaskFailures(p.handle));
      if (f.length) taskFailures[p.workflowId] = f;
    }
    for (const w of stack.workers) if (w.alive) w.kill('SIGTERM');
    await Promise.all(stack.workers.map((w) => w.exited));
    // The step machinery kills process groups asynchronously; give the kernel a moment.
    let strays = strayProcesses(stack.marker, stack.dataDir);
    for (let i = 0; i < 50 && strays.length; i++) {
      await sleep(200);
      strays = strayProcesses(stack.marker, stack.dataDir);
    }
    const containers = await strayContainers(stack.marker.slice(0, 6));
    const report: ChaosReport = {
      seconds: Math.round((Date.now() - started) / 1000),
      pipelines: counts,
      skipped,
      faults: chaos.faults,
      duplicates: await duplicateRows(stack.db.url),
      strayProcesses: strays,
      strayContainers: containers ?? [],
      containerScan: containers !== undefined,
      inputs: { total: inputs.length, ok: inputs.filter((i) => i.ok).length, bad: inputs.filter((i) => !i.ok) },
      workflowTaskFailures: taskFailures,
      reasons: [],
    };
    report.reasons = passLine(report);
    return report;
  } finally {
    for (const p of pipelines) await p.handle.terminate('chaos run over').catch(() => undefined);
    await stack.close();
  }
}
