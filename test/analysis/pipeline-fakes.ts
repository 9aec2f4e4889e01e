import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import type pg from 'pg';
import { createLogger } from '../../src/config/logger.js';
import { createNotifyActivities } from '../../src/activities/notify.js';
import type { ActivityDeps } from '../../src/activities/deps.js';
import { createAnalysisTargetActivities } from '../../src/activities/analysis/targets.js';
import type { AnalysisActivities } from '../../src/shared/analysis/activities.js';
import type { AnalyzerOutcome, RunAnalyzerInput } from '../../src/shared/analysis/analyzers.js';
import type { AnalysisPipelineInput } from '../../src/shared/analysis/input.js';
import { appAnalysisWorkflowId } from '../../src/shared/analysis/ids.js';

// Workflow-logic tests for the analysis pipeline: the real dev server, the real bookkeeping and
// notify activities on the suite's PostgreSQL and a local webhook receiver, and simple in-process
// stand-ins for the container and analyzer activities (containers add nothing to what these
// tests prove: scheduling, breakers, duplicates, cleanup order). Every call is logged with a
// global sequence number, so ordering is asserted without timing.

export interface LogEntry {
  seq: number;
  event: string;
  /** The target's appAnalysis workflow ID. */
  target: string;
  analyzer?: string;
}

export type AnalyzerBehaviour = (
  input: RunAnalyzerInput,
  attempt: number,
) => Promise<Partial<AnalyzerOutcome> | void> | Partial<AnalyzerOutcome> | void;

export interface FakeControls {
  log: LogEntry[];
  preflight: { ok: boolean; problems: string[] };
  /** Per-call behaviour; default: completes with one finding. Throw to fail the attempt. */
  analyzer: AnalyzerBehaviour;
  /** Per target: 'healthy' (default), 'unhealthy' (fails AppUnhealthy before ready), 'dies' (exits 137 soon after ready). */
  holder: (target: string) => 'healthy' | 'unhealthy' | 'dies';
  calls(event: string, target?: string, analyzer?: string): LogEntry[];
}

let seq = 0;

/** Waits ms while heartbeating; rejects with the cancellation when the activity is cancelled. */
export async function busy(ms: number): Promise<void> {
  const ctx = Context.current();
  const until = Date.now() + ms;
  while (Date.now() < until) {
    ctx.heartbeat();
    await ctx.sleep(Math.min(100, until - Date.now()));
  }
}

export function fakeAnalysisActivities(
  client: () => Client,
  pool: pg.Pool,
  webhookUrl?: string,
): { activities: AnalysisActivities; controls: FakeControls } {
  const controls: FakeControls = {
    log: [],
    preflight: { ok: true, problems: [] },
    analyzer: () => undefined,
    holder: () => 'healthy',
    calls: (event, target, analyzer) =>
      controls.log.filter(
        (e) => e.event === event && (target === undefined || e.target === target) && (analyzer === undefined || e.analyzer === analyzer),
      ),
  };
  const note = (event: string, target: string, analyzer?: string) =>
    controls.log.push({ seq: ++seq, event, target, ...(analyzer ? { analyzer } : {}) });
  const deps = { pool, webhookUrl, logger: createLogger('error', 'fake') } as unknown as ActivityDeps;
  const notify = createNotifyActivities(deps);

  const activities: AnalysisActivities = {
    ...createAnalysisTargetActivities({ pool }),
    notifyWebhook: notify.notifyWebhook,
    async preflightAnalysis(input) {
      note('preflight', input.analyzers.join(','));
      return controls.preflight;
    },
    async ensureImage(input) {
      note('ensureImage', input.context);
      return { image: `localhost/fake-${input.context.replace(/\W+/g, '-')}:1`, built: false, contentHash: 'fake' };
    },
    async holdAppContainer(input) {
      const ctx = Context.current();
      const target = input.owner.workflowId;
      note('hold:start', target);
      if (controls.holder(target) === 'unhealthy') {
        note('hold:unhealthy', target);
        throw ApplicationFailure.nonRetryable(
          `app did not answer GET ${input.spec.healthPath} on port ${input.spec.port} within ${input.spec.healthTimeout}: connection refused`,
          'AppUnhealthy',
        );
      }
      const containerId = randomUUID();
      await client()
        .workflow.getHandle(input.owner.workflowId, input.owner.runId)
        .signal(input.readySignal, {
          containerId,
          name: `fake-${containerId.slice(0, 8)}`,
          host: { host: '127.0.0.1', port: 40000 + ctx.info.attempt },
        });
      note('hold:ready', target);
      try {
        if (controls.holder(target) === 'dies') {
          await busy(500);
          note('hold:died', target);
          throw ApplicationFailure.nonRetryable(
            'app container exited with code 137 while held (OOMKilled: false); log tail: Killed',
            'AppContainerExited',
          );
        }
        for (;;) await busy(60_000);
      } catch (err) {
        if (controls.holder(target) === 'dies') throw err;
        note('hold:cancelled', target);
        // Stopping and removing a container takes a moment; the workflow must wait for it.
        await new Promise((r) => setTimeout(r, 150));
        note('hold:removed', target);
        throw err;
      }
    },
    async runAnalyzer(input) {
      const target = appAnalysisWorkflowId(input.pipelineId, input.target.model, input.target.app);
      const attempt = Context.current().info.attempt;
      note('analyzer:start', target, input.analyzer);
      const startedAt = Date.now();
      try {
        const partial = (await controls.analyzer(input, attempt)) ?? {};
        note('analyzer:end', target, input.analyzer);
        return {
          analyzer: input.analyzer,
          status: 'completed',
          findings: 1,
          bySeverity: { low: 1 },
          durationMs: Date.now() - startedAt,
          ...partial,
        };
      } catch (err) {
        note('analyzer:end', target, input.analyzer);
        throw err;
      }
    },
  };
  return { activities, controls };
}

export interface FakeWorker {
  worker: Worker;
  taskQueue: string;
  controls: FakeControls;
  stop(): Promise<void>;
}

export async function startFakeWorker(client: Client, pool: pg.Pool, webhookUrl?: string): Promise<FakeWorker> {
  const taskQueue = `analysis-${randomUUID().slice(0, 8)}`;
  const { activities, controls } = fakeAnalysisActivities(() => client, pool, webhookUrl);
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    activities,
    maxHeartbeatThrottleInterval: '100ms',
    defaultHeartbeatThrottleInterval: '100ms',
  });
  const running = worker.run();
  return {
    worker,
    taskQueue,
    controls,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await connection.close();
    },
  };
}

/** A pipeline input over `n` targets (two models), app containers from build contexts. */
export function pipelineInput(pipelineId: string, n: number, over: Partial<AnalysisPipelineInput> = {}): AnalysisPipelineInput {
  const targets = Array.from({ length: n }, (_, i) => ({
    model: i % 2 === 0 ? 'claude-3-5-haiku' : 'claude-4.5-haiku-20251001',
    app: Math.floor(i / 2) + 1,
    sourceDir: `examples/analysis/app${i}`,
    buildContext: `examples/analysis/app${i}`,
    port: 3000,
    healthPath: '/health',
    healthTimeout: '5s',
  }));
  return {
    pipelineId,
    targets,
    analyzers: [
      { name: 'static', retry: { maximumAttempts: 1 } },
      { name: 'dynamic', retry: { maximumAttempts: 1 } },
      { name: 'performance', retry: { maximumAttempts: 1 } },
      { name: 'ai-review', retry: { maximumAttempts: 1 } },
    ],
    concurrency: 2,
    ...over,
  };
}

export function uniquePipelineId(prefix: string): string {
  return `${prefix}_${randomUUID().slice(0, 8)}`;
}
