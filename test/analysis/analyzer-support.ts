import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type pg from 'pg';
import { inject } from 'vitest';
import { ensureAnalyzerTools } from '../../scripts/lib/analyzers.js';
import { freePort } from '../../scripts/lib/free-port.js';
import { createAnalysisActivities, type AnalysisDeps } from '../../src/activities/analysis/index.js';
import { createLogger } from '../../src/config/logger.js';
import type { ModelRegistry } from '../../src/config/models.js';
import { createPool } from '../../src/db/pool.js';
import type { AnalyzerOutcome, RunAnalyzerInput } from '../../src/shared/analysis/analyzers.js';
import type { AppAddress } from '../../src/shared/containers.js';
import { tempDir } from '../support/harness.js';

// Analyzer tests run the real runAnalyzer activity (MockActivityEnvironment supplies only the
// Temporal context) against the example apps started as real processes on a free loopback port.

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const APPS = 'examples/analysis/apps';

let tools: Promise<void> | undefined;
/** The project's own set-up of the analyzer tools (installs nmap when missing; no-op when present). */
export function ensureTools(): Promise<void> {
  tools ??= ensureAnalyzerTools(() => undefined);
  return tools;
}

let sharedPool: pg.Pool | undefined;
export function pool(): pg.Pool {
  return (sharedPool ??= createPool(inject('databaseUrl')));
}
export async function closePool(): Promise<void> {
  await sharedPool?.end();
  sharedPool = undefined;
}

export interface AnalyzerHarness {
  deps: AnalysisDeps;
  heartbeats: unknown[];
  run(
    input: Omit<RunAnalyzerInput, 'runId' | 'pipelineId'> & { runId?: string; pipelineId?: string },
    info?: Partial<Info>,
  ): Promise<AnalyzerOutcome>;
  pipelineId: string;
}

export function analyzerHarness(opts: { registry?: ModelRegistry; projectDir?: string } = {}): AnalyzerHarness {
  const dir = tempDir('analyzer');
  const deps: AnalysisDeps = {
    pool: pool(),
    runsDir: path.join(dir, 'runs'),
    procDir: path.join(dir, 'procs'),
    logger: createLogger('silent', 'analyzer-test'),
    projectDir: opts.projectDir ?? ROOT,
    registry: opts.registry,
  };
  const acts = createAnalysisActivities(deps);
  const pipelineId = `p${randomUUID().slice(0, 8)}`;
  const heartbeats: unknown[] = [];
  return {
    deps,
    heartbeats,
    pipelineId,
    run(input, info = {}) {
      const env = new MockActivityEnvironment(
        {
          activityId: `runAnalyzer-${input.analyzer}`,
          workflowExecution: {
            workflowId: `analysis-${pipelineId}-${input.target.model}-${input.target.app}`,
            runId: input.runId ?? 'run-1',
          },
          startToCloseTimeoutMs: 120_000,
          heartbeatTimeoutMs: 30_000,
          currentAttemptScheduledTimestampMs: Date.now(),
          ...info,
        },
        { logger: new DefaultLogger('ERROR') },
      );
      env.on('heartbeat', (d: unknown) => heartbeats.push(d));
      return env.run(acts.runAnalyzer, { pipelineId, runId: 'run-1', ...input });
    },
  };
}

export interface RunningApp {
  address: AppAddress;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts examples/analysis/apps/<name>/server.js on a free loopback port and waits for /health. */
export async function startExampleApp(name: string): Promise<RunningApp> {
  const port = await freePort();
  const child = spawn(process.execPath, ['server.js'], {
    cwd: path.join(ROOT, APPS, name),
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before answering /health`);
    if (Date.now() > deadline) throw new Error(`${name} did not answer /health on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    child,
    address: { containerId: `process-${child.pid}`, name, host: { host: '127.0.0.1', port } },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** An address nothing listens on: a port the kernel just handed out and took back. */
export async function closedAddress(): Promise<AppAddress> {
  const port = await freePort();
  return { containerId: 'none', name: 'closed', host: { host: '127.0.0.1', port } };
}

/** 1-based line of the first line of a file containing `needle`. */
export function lineOf(source: string, needle: string): number {
  const i = source.split('\n').findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`${needle} not in source`);
  return i + 1;
}
