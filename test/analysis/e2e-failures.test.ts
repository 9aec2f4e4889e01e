import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analysisHandle, startAnalysisPipeline } from '../../src/client/analysis.js';
import { startTestWorker, type TestWorker } from '../support/harness.js';
import { closePool } from './analyzer-support.js';
import { ensureTestContainers, outcome, pipelineContainers, target, testDocker, uniquePipelineId, waitFor } from './e2e-support.js';

// The seed's container failures, with real containers: the app killed while it is being scanned,
// an app that never becomes healthy, a wrong port, and a cancelled pipeline. Each unreachable app
// is a failed analyzer with the reason (never "completed"), the pipeline goes on with the other
// targets, and no container is left behind.

const SLOW = 'test/analysis/e2e-fixtures/slow-app';
const NOTES = 'examples/analysis/apps/qwen-coder-app1';
const GUESTBOOK = 'examples/analysis/apps/llama-coder-app1';

let w: TestWorker;
beforeAll(async () => {
  await ensureTestContainers();
  w = await startTestWorker({ maxConcurrentActivityTaskExecutions: 8 });
});
afterAll(async () => {
  await w?.stop();
  await closePool();
});

const app = (model: string, appId: string, dir: string, extra: Record<string, unknown> = {}) => ({
  model,
  app: appId,
  sourceDir: dir,
  buildContext: dir,
  port: 8080,
  healthPath: '/health',
  healthTimeout: '20s',
  ...extra,
});
const breakers = { analyzerFailureThreshold: 10, pipelineFailureThreshold: 10 };

/** What each running runAnalyzer attempt of a target's workflow last heartbeated ({analyzer, phase}). */
async function analyzerPhases(workflowId: string): Promise<Array<{ analyzer?: string; phase?: string }>> {
  try {
    const d = await w.client.workflow.getHandle(workflowId).describe();
    return (d.raw.pendingActivities ?? [])
      .filter((a) => a.activityType?.name === 'runAnalyzer')
      .map((a) => {
        const data = a.heartbeatDetails?.payloads?.[0]?.data;
        return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { analyzer?: string; phase?: string }) : {};
      });
  } catch {
    return [];
  }
}

describe('analysis pipeline failure modes (real containers)', () => {
  it('an app container killed mid-scan fails the dynamic analyzer with the reason, and the pipeline goes on', async () => {
    const pipelineId = uniquePipelineId('kill');
    const handle = await startAnalysisPipeline(
      w.client,
      {
        pipelineId,
        notify: false,
        concurrency: 2,
        breakers,
        targets: [app('slow', 'a1', SLOW), app('qwen-coder', '1', NOTES)],
        analyzers: [{ name: 'static' }, { name: 'dynamic', config: { maxPages: 60 }, retry: { maximumAttempts: 1 } }],
      },
      { taskQueue: w.taskQueue },
    );
    const slowWorkflow = `analysis-${pipelineId}-slow-a1`;
    await waitFor(
      async () => (await analyzerPhases(slowWorkflow)).some((p) => p.analyzer === 'dynamic' && p.phase === 'nmap'),
      'nmap scanning the slow app',
    );
    // nmap's spider needs 400 ms per page of the slow app (60 pages): 2.5 s in, it is mid-scan.
    await new Promise((r) => setTimeout(r, 2500));
    const [victim] = (await pipelineContainers(testDocker(), pipelineId)).filter((c) => c.Labels['shepherd.workflow'] === slowWorkflow);
    await testDocker().getContainer(victim!.Id).kill();

    const result = await handle.result();
    const slow = target(result, 'slow', 'a1');
    const dynamic = outcome(slow, 'dynamic');
    expect(dynamic.status).toBe('failed');
    // Whoever notices first says why: the holder (container exited: the scan is cancelled), the
    // scan's own post-scan probe (app gone), or nmap getting no HTTP answer. Never "completed".
    expect(dynamic.reason).toMatch(/app container failed during analysis: .*exit|stopped answering during the scan|nothing scanned/i);
    expect(outcome(slow, 'static').status).toBe('completed');
    const notes = target(result, 'qwen-coder', '1');
    expect(notes.status).toBe('completed');
    expect(outcome(notes, 'dynamic')).toMatchObject({ status: 'completed' });
    expect(outcome(notes, 'dynamic').findings).toBeGreaterThan(0);
    await waitFor(async () => (await pipelineContainers(testDocker(), pipelineId)).length === 0, 'no container left', 30_000);
  });

  it('an app that never becomes healthy and an app on the wrong port fail their app analyzers with the reason; the good one completes', async () => {
    const pipelineId = uniquePipelineId('unhealthy');
    const result = await (
      await startAnalysisPipeline(
        w.client,
        {
          pipelineId,
          notify: false,
          concurrency: 3,
          breakers,
          targets: [
            app('qwen-coder', 'sick', NOTES, { healthPath: '/never-healthy', healthTimeout: '5s' }),
            app('qwen-coder', 'wrongport', NOTES, { port: 9090, healthTimeout: '5s' }),
            app('llama-coder', '1', GUESTBOOK),
          ],
          analyzers: [{ name: 'static' }, { name: 'dynamic' }, { name: 'performance', config: { durationSeconds: 1, connections: 2 } }],
        },
        { taskQueue: w.taskQueue },
      )
    ).result();
    for (const [appId, why] of [
      ['sick', /not ready|unhealthy|health/i],
      ['wrongport', /not ready|unhealthy|health|9090|refused|reset/i],
    ] as const) {
      const t = target(result, 'qwen-coder', appId);
      for (const a of ['dynamic', 'performance']) {
        const o = outcome(t, a);
        expect(o.status, `${appId} ${a}`).toBe('failed');
        expect(o.reason, `${appId} ${a}`).toMatch(why);
        expect(o.findings).toBe(0);
      }
      expect(outcome(t, 'static').status).toBe('completed');
      expect(t.status).not.toBe('completed');
    }
    expect(target(result, 'llama-coder', '1').status).toBe('completed');
    await waitFor(async () => (await pipelineContainers(testDocker(), pipelineId)).length === 0, 'no container left', 30_000);
  });

  it('a cancelled pipeline leaves no container', async () => {
    const pipelineId = uniquePipelineId('cancel');
    const handle = await startAnalysisPipeline(
      w.client,
      {
        pipelineId,
        notify: false,
        targets: [app('llama-coder', '1', GUESTBOOK)],
        analyzers: [{ name: 'performance', config: { durationSeconds: 120, connections: 2 } }],
      },
      { taskQueue: w.taskQueue },
    );
    const targetWorkflow = `analysis-${pipelineId}-llama-coder-1`;
    await waitFor(
      async () => (await analyzerPhases(targetWorkflow)).some((p) => p.analyzer === 'performance' && p.phase?.startsWith('autocannon')),
      'the load test running',
    );
    expect((await pipelineContainers(testDocker(), pipelineId)).length).toBe(1);
    await handle.cancel();
    const ended = await handle.result().then(
      (r) => r.status,
      (e: Error) => e.name,
    );
    expect(['cancelled', 'WorkflowFailedError']).toContain(ended);
    await waitFor(async () => (await pipelineContainers(testDocker(), pipelineId)).length === 0, 'no container left after cancel', 30_000);
    const desc = await analysisHandle(w.client, pipelineId).raw.describe();
    expect(['CANCELLED', 'COMPLETED']).toContain(desc.status.name);
  });
});
