import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError, type Client, type Connection } from '@temporalio/client';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { startAnalysisPipeline, type AnalysisHandle } from '../../src/client/analysis.js';
import { createPool } from '../../src/db/pool.js';
import { appAnalysisWorkflowId } from '../../src/shared/analysis/ids.js';
import { STAGE } from '../../src/shared/search-attributes.js';
import { connectTestClient } from '../support/harness.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { busy, pipelineInput, startFakeWorker, uniquePipelineId, type FakeWorker } from './pipeline-fakes.js';

// The breakers inside the real workflow: tripping, what they skip and why, where they show
// (query, Stage search attribute, current details), and resetting through the update and signal.

let client: Client;
let connection: Connection;
let pool: pg.Pool;
let hook: WebhookReceiver;
let w: FakeWorker;

beforeAll(async () => {
  ({ client, connection } = await connectTestClient());
  pool = createPool(inject('databaseUrl'));
  hook = await startWebhookReceiver();
  w = await startFakeWorker(client, pool, hook.url);
});
afterAll(async () => {
  await w?.stop();
  await connection?.close();
  await pool?.end();
  await hook?.close();
});
beforeEach(() => {
  w.controls.log.length = 0;
  w.controls.analyzer = () => undefined;
  w.controls.holder = () => 'healthy';
});

const sourceOnly = [
  { name: 'static' as const, retry: { maximumAttempts: 1 } },
  { name: 'ai-review' as const, retry: { maximumAttempts: 1 } },
];

async function stage(h: AnalysisHandle): Promise<string> {
  const d = await h.raw.describe();
  return String(d.typedSearchAttributes.get(STAGE) ?? '');
}

/** The Web UI's "current details": what setCurrentDetails published, through the SDK's metadata query. */
async function currentDetails(h: AnalysisHandle): Promise<string> {
  const meta = await h.raw.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return meta.currentDetails ?? '';
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < 300; i++) {
    last = await fn();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

describe('analyzer breaker in analysisPipeline', () => {
  it('opens after N consecutive failures across targets, skips with "breaker open", and the resetBreaker update lets it run again', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    w.controls.analyzer = async (input) => {
      if (input.analyzer === 'static') throw ApplicationFailure.nonRetryable('eslint crashed: cannot read config', 'CommandFailed');
      // The third target's ai-review waits, so the test can look at (and reset) the open breaker.
      if (input.target.model === 'claude-3-5-haiku' && input.target.app === '2') await gate;
    };
    const id = uniquePipelineId('abreak');
    const h = await startAnalysisPipeline(
      client,
      pipelineInput(id, 4, {
        concurrency: 1,
        analyzers: sourceOnly,
        breakers: { analyzerFailureThreshold: 2, analyzerCooldownTargets: 100, analyzerCooldown: '1h' },
      }),
      { taskQueue: w.taskQueue },
    );
    const progress = await waitFor(
      () => h.progress(),
      (p) => p.targets[2]!.status === 'running',
      'third target running',
    );
    const staticBreaker = progress.breakers.analyzers.find((b) => b.analyzer === 'static')!;
    expect(staticBreaker).toMatchObject({
      state: 'open',
      consecutiveFailures: 2,
      trips: 1,
      lastFailure: expect.stringMatching(/eslint crashed/),
    });
    expect(await stage(h)).toMatch(/static:open/);
    expect(await currentDetails(h)).toMatch(/static: open, 2 consecutive failures/);

    const reset = await h.resetBreaker('static');
    expect(reset.reset).toEqual(['static']);
    expect(reset.breakers.analyzers.find((b) => b.analyzer === 'static')!.state).toBe('closed');
    // The update's validator rejects an unknown breaker before it reaches the history.
    await expect(h.resetBreaker('nonsense' as never)).rejects.toMatchObject({
      cause: { message: expect.stringMatching(/breaker must be "pipeline", "all" or a configured analyzer/) },
    });
    release();

    const result = await h.result();
    const byTarget = result.targets.map((t) => t.analyzers.find((a) => a.analyzer === 'static'));
    expect(byTarget.map((a) => a?.status)).toEqual(['failed', 'failed', 'skipped', 'failed']);
    expect(byTarget[2]!.reason).toMatch(/^breaker open: static failed 2 times in a row/);
    // The skipped target never called the analyzer; the one after the reset did.
    expect(w.controls.calls('analyzer:start', appAnalysisWorkflowId(id, 'claude-3-5-haiku', '2'), 'static')).toHaveLength(0);
    expect(w.controls.calls('analyzer:start', appAnalysisWorkflowId(id, 'claude-4.5-haiku-20251001', '2'), 'static')).toHaveLength(1);
    expect(result.status).toBe('completed_with_failures');
    expect(result.counts.partial).toBe(4);
    expect(result.breakers.analyzers.find((b) => b.analyzer === 'static')).toMatchObject({
      state: 'closed',
      consecutiveFailures: 1,
      trips: 1,
    });
  });

  it('after the cool-down (in finished targets) it is half-open: one trial target, which closes it when it succeeds', async () => {
    let fail = true;
    w.controls.analyzer = async (input) => {
      if (input.analyzer === 'static' && fail) throw ApplicationFailure.nonRetryable('static tool missing rules', 'CommandFailed');
      if (input.analyzer === 'ai-review' && input.target.model === 'claude-4.5-haiku-20251001' && input.target.app === '1') fail = false;
      await busy(10);
    };
    const id = uniquePipelineId('half');
    const h = await startAnalysisPipeline(
      client,
      pipelineInput(id, 4, {
        concurrency: 1,
        analyzers: sourceOnly,
        breakers: { analyzerFailureThreshold: 1, analyzerCooldownTargets: 1, analyzerCooldown: '1h' },
      }),
      { taskQueue: w.taskQueue },
    );
    const result = await h.result();
    const statuses = result.targets.map((t) => t.analyzers.find((a) => a.analyzer === 'static')?.status);
    // t0 fails → open; t1 skipped (cool-down: 1 finished target); t2 is the trial and succeeds → closed; t3 runs.
    expect(statuses).toEqual(['failed', 'skipped', 'completed', 'completed']);
    expect(result.breakers.analyzers.find((b) => b.analyzer === 'static')).toMatchObject({ state: 'closed', trips: 1 });
  });
});

describe('pipeline breaker in analysisPipeline', () => {
  it('after N consecutive failed targets starts no new target, marks the rest skipped with the reason, sends one summary, and the pipeline fails', async () => {
    w.controls.holder = () => 'unhealthy';
    const id = uniquePipelineId('pbreak');
    const h = await startAnalysisPipeline(
      client,
      pipelineInput(id, 5, {
        concurrency: 1,
        analyzers: [{ name: 'dynamic', retry: { maximumAttempts: 1 } }],
        breakers: { pipelineFailureThreshold: 2 },
      }),
      { taskQueue: w.taskQueue },
    );
    const err = await h.result().then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause?.type).toBe('AnalysisFailed');
    const p = await h.progress();
    expect(p.targets.map((t) => t.status)).toEqual(['failed', 'failed', 'skipped', 'skipped', 'skipped']);
    for (const t of p.targets.slice(2))
      expect(t.reason).toBe(`pipeline breaker open: 2 consecutive failed targets (last: ${p.targets[1]!.model}:${p.targets[1]!.app})`);
    expect(p.breakers.pipeline).toMatchObject({ state: 'open', trips: 1 });
    // The app never came up: the targets failed, the dynamic analyzer did not, so its breaker stays closed.
    expect(p.breakers.analyzers.find((b) => b.analyzer === 'dynamic')).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(w.controls.calls('hold:start')).toHaveLength(2);
    expect(await stage(h)).toBe('failed (breakers pipeline:open)');
    const { rows } = await pool.query('SELECT status, reason FROM analysis_targets WHERE pipeline_id = $1 ORDER BY model, app', [id]);
    expect(rows.filter((r) => r.status === 'skipped')).toHaveLength(3);
    expect(rows.filter((r) => r.status === 'skipped').every((r) => /pipeline breaker open/.test(r.reason))).toBe(true);
    const summaries = hook.received.filter((r) => String(r.body?.text).startsWith(`Analysis ${id} `));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.body.text).toMatch(/failed: 0 completed, 0 partial, 2 failed, 3 skipped/);
  });

  it('waits for a reset when asked to; the resetBreaker signal resumes the skipped targets', async () => {
    w.controls.holder = (wf) => (wf.endsWith('claude-3-5-haiku-1') ? 'unhealthy' : 'healthy');
    const id = uniquePipelineId('presume');
    const h = await startAnalysisPipeline(
      client,
      pipelineInput(id, 3, {
        concurrency: 1,
        analyzers: [{ name: 'dynamic', retry: { maximumAttempts: 1 } }],
        breakers: { pipelineFailureThreshold: 1, pipelineResetWait: '5m' },
      }),
      { taskQueue: w.taskQueue },
    );
    const p = await waitFor(
      () => h.progress(),
      (x) => x.breakers.pipeline.state === 'open' && x.targets[1]!.status === 'skipped',
      'pipeline breaker open',
    );
    expect(p.targets.map((t) => t.status)).toEqual(['failed', 'skipped', 'skipped']);
    expect(await stage(h)).toMatch(/pipeline:open/);
    await waitFor(
      async () => hook.received.some((r) => String(r.body?.text).includes('targets wait up to 5m for a resetBreaker')),
      Boolean,
      'breaker alert',
    );
    expect(w.controls.calls('hold:start')).toHaveLength(1);

    await h.signalResetBreaker('pipeline');
    const result = await h.result();
    expect(result.status).toBe('completed_with_failures');
    expect(result.targets.map((t) => t.status)).toEqual(['failed', 'completed', 'completed']);
    expect(result.breakers.pipeline).toMatchObject({ state: 'closed', trips: 1 });
    const { rows } = await pool.query('SELECT status FROM analysis_targets WHERE pipeline_id = $1 ORDER BY model, app', [id]);
    expect(rows.map((r) => r.status).sort()).toEqual(['completed', 'completed', 'failed']);
  });
});
