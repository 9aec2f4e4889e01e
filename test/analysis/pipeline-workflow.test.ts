import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createPool } from '../../src/db/pool.js';
import { startAnalysisPipeline } from '../../src/client/analysis.js';
import { analysisPipelineWorkflowId, appAnalysisWorkflowId } from '../../src/shared/analysis/ids.js';
import { connectTestClient } from '../support/harness.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { pipelineInput, startFakeWorker, uniquePipelineId, type FakeWorker } from './pipeline-fakes.js';
import type pg from 'pg';
import type { Client, Connection } from '@temporalio/client';

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
  w.controls.preflight = { ok: true, problems: [] };
  w.controls.analyzer = () => undefined;
  w.controls.holder = () => 'healthy';
});

const summaries = (pipelineId: string) => hook.received.filter((r) => String(r.body?.text ?? '').startsWith(`Analysis ${pipelineId} `));

async function targetRows(pipelineId: string) {
  const { rows } = await pool.query(
    'SELECT model, app, status, reason, run_id, findings FROM analysis_targets WHERE pipeline_id = $1 ORDER BY model, app',
    [pipelineId],
  );
  return rows;
}

/** Every run ever started under a workflow ID (visibility is eventually consistent: wait for the first). */
async function executions(workflowId: string): Promise<number> {
  for (let i = 0; ; i++) {
    let n = 0;
    for await (const _ of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) n++;
    if (n > 0 || i >= 50) return n;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('analysisPipeline', () => {
  it('runs every target once: 20 concurrent starts, 3 more under other workflow IDs, and a target listed twice', async () => {
    const id = uniquePipelineId('dup');
    const input = pipelineInput(id, 4, { concurrency: 4 });
    input.targets.push({ ...input.targets[1]! }); // the seed's duplicate task: same model/app again
    const handles = await Promise.all(Array.from({ length: 20 }, () => startAnalysisPipeline(client, input, { taskQueue: w.taskQueue })));
    expect(new Set(handles.map((h) => h.firstExecutionRunId)).size).toBe(1);
    // Starts that bypass the typed client (another service, the temporal CLI) cannot duplicate targets either.
    const others = await Promise.all(
      [1, 2, 3].map((n) =>
        client.workflow.start('analysisPipeline', {
          taskQueue: w.taskQueue,
          workflowId: `${analysisPipelineWorkflowId(id)}-other${n}`,
          args: [input],
        }),
      ),
    );
    const result = await handles[0]!.result();
    const otherResults = await Promise.all(others.map((h) => h.result()));

    // Whichever pipeline run started a target's child first owns it; each target completes in
    // exactly one of the four runs, and every other run reports it skipped with the reason.
    const all = [result, ...otherResults];
    for (const r of all) {
      expect(r.targets).toHaveLength(5);
      const dup = r.targets[4]!;
      expect(dup).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/duplicate of targets\[1\]/) });
      for (const t of r.targets.filter((x: { status: string }) => x.status === 'skipped'))
        expect(t.reason).toMatch(/already started as analysis-|duplicate of/);
    }
    for (let i = 0; i < 4; i++) {
      const owners = all.filter((r) => r.targets[i]!.status === 'completed');
      expect(owners, `target ${i}`).toHaveLength(1);
    }
    expect(all.reduce((n, r) => n + r.counts.completed, 0)).toBe(4);
    for (const t of input.targets.slice(0, 4)) {
      const wf = appAnalysisWorkflowId(id, t.model, String(t.app));
      expect(await executions(wf), wf).toBe(1);
      expect(w.controls.calls('hold:start', wf)).toHaveLength(1);
      for (const a of ['static', 'dynamic', 'performance', 'ai-review'])
        expect(w.controls.calls('analyzer:start', wf, a), `${wf} ${a}`).toHaveLength(1);
    }
    const rows = await targetRows(id);
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.status === 'completed' && r.findings === 4)).toBe(true);
    // One summary per pipeline run.
    expect(summaries(id)).toHaveLength(4);
  });

  it('releases the app container only after every analyzer finished: success, analyzer failure, cancellation', async () => {
    // Analyzers take different times; the slowest app-less one (ai-review) decides when the container goes.
    w.controls.analyzer = async (input) => {
      const { busy } = await import('./pipeline-fakes.js');
      await busy(input.analyzer === 'ai-review' ? 900 : input.analyzer === 'static' ? 300 : 150);
      if (input.target.app === '2' && input.analyzer === 'performance') throw new Error('performance tester crashed');
    };
    const id = uniquePipelineId('order');
    const h = await startAnalysisPipeline(client, pipelineInput(id, 4, { concurrency: 4 }), { taskQueue: w.taskQueue });
    const result = await h.result();
    expect(result.status).toBe('completed_with_failures');
    const partial = result.targets.filter((t) => t.status === 'partial');
    expect(partial.map((t) => t.app)).toEqual(['2', '2']);
    for (const t of partial)
      expect(t.analyzers.find((a) => a.analyzer === 'performance')).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(/performance tester crashed/),
      });
    assertCleanupAfterAnalyzers(id, ['1', '2']);

    // Cancellation: analyzers are mid-way; each must wind down before its container is released.
    w.controls.log.length = 0;
    w.controls.analyzer = async () => {
      const { busy } = await import('./pipeline-fakes.js');
      try {
        await busy(60_000);
      } finally {
        await new Promise((r) => setTimeout(r, 200)); // an analyzer that takes a moment to stop
      }
    };
    const cid = uniquePipelineId('cancel');
    const ch = await startAnalysisPipeline(client, pipelineInput(cid, 2, { concurrency: 2 }), { taskQueue: w.taskQueue });
    await waitFor(() => w.controls.calls('analyzer:start').length === 8);
    await ch.cancel();
    await expect(ch.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    assertCleanupAfterAnalyzers(cid, ['1']);
    expect(w.controls.calls('hold:removed')).toHaveLength(2);
    const rows = await targetRows(cid);
    expect(rows.map((r) => r.status)).toEqual(['cancelled', 'cancelled']);
  });

  it('fails fast on preflight: no target starts, no row, the problem named', async () => {
    w.controls.preflight = {
      ok: false,
      problems: ['nmap not found on PATH (dynamic analyzer)', 'container runtime unreachable at unix:///run/shepherd/podman.sock'],
    };
    const id = uniquePipelineId('pre');
    const h = await startAnalysisPipeline(client, pipelineInput(id, 2), { taskQueue: w.taskQueue });
    const err = await h.result().then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause?.message).toMatch(/preflight failed: nmap not found.*runtime unreachable/);
    expect(err.cause?.type).toBe('PreflightFailed');
    expect(w.controls.calls('ensureImage')).toHaveLength(0);
    expect(w.controls.calls('analyzer:start')).toHaveLength(0);
    expect(await targetRows(id)).toHaveLength(0);
    expect(summaries(id)).toHaveLength(0);
    expect(hook.received.some((r) => String(r.body?.text).includes(`${id} did not start: preflight failed`))).toBe(true);
  });

  it('an unhealthy app fails its app analyzers with the reason (never completed); source analyzers still run', async () => {
    w.controls.holder = (wf) => (wf.endsWith('-1') ? 'unhealthy' : 'healthy');
    const id = uniquePipelineId('unhealthy');
    const h = await startAnalysisPipeline(client, pipelineInput(id, 2), { taskQueue: w.taskQueue });
    const result = await h.result();
    const t = result.targets[0]!;
    expect(t.status).toBe('partial');
    for (const a of ['dynamic', 'performance']) {
      expect(t.analyzers.find((o) => o.analyzer === a)).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(/app container not ready: .*connection refused/),
      });
    }
    expect(
      t.analyzers
        .filter((o) => o.status === 'completed')
        .map((o) => o.analyzer)
        .sort(),
    ).toEqual(['ai-review', 'static']);
    expect(w.controls.calls('analyzer:start', appAnalysisWorkflowId(id, t.model, t.app), 'dynamic')).toHaveLength(0);
  });

  it('an app container that dies mid-analysis fails its app analyzers with the reason; the others and the pipeline go on', async () => {
    w.controls.holder = (wf) => (wf.endsWith('claude-3-5-haiku-1') ? 'dies' : 'healthy');
    w.controls.analyzer = async (input) => {
      const { busy } = await import('./pipeline-fakes.js');
      await busy(input.analyzer === 'dynamic' || input.analyzer === 'performance' ? 3000 : 100);
    };
    const id = uniquePipelineId('died');
    const h = await startAnalysisPipeline(client, pipelineInput(id, 2), { taskQueue: w.taskQueue });
    const result = await h.result();
    expect(result.status).toBe('completed_with_failures');
    const [died, ok] = result.targets;
    expect(died!.status).toBe('partial');
    for (const a of ['dynamic', 'performance']) {
      expect(died!.analyzers.find((o) => o.analyzer === a)).toMatchObject({
        status: 'failed',
        reason: expect.stringMatching(/app container failed during analysis: .*exited with code 137/),
      });
    }
    expect(ok!.status).toBe('completed');
    // The analyzers against the dead container were stopped (cancelled), not left running.
    const wf = appAnalysisWorkflowId(id, died!.model, died!.app);
    expect(w.controls.calls('analyzer:end', wf)).toHaveLength(4);
  });
});

function assertCleanupAfterAnalyzers(pipelineId: string, apps: string[]) {
  const log = w.controls.log;
  for (const wf of new Set(log.filter((e) => e.target.startsWith(`analysis-${pipelineId}-`)).map((e) => e.target))) {
    if (!apps.some((a) => wf.endsWith(`-${a}`))) continue;
    const ends = log.filter((e) => e.target === wf && e.event === 'analyzer:end');
    const cancelled = log.filter((e) => e.target === wf && e.event === 'hold:cancelled');
    expect(ends, wf).toHaveLength(4);
    expect(cancelled, wf).toHaveLength(1);
    expect(cancelled[0]!.seq, `${wf}: container released before an analyzer finished`).toBeGreaterThan(Math.max(...ends.map((e) => e.seq)));
  }
}

export async function waitFor(check: () => boolean | Promise<boolean>, what = 'condition', tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
