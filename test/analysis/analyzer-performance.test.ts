import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFindings } from '../../src/db/analysis/findings-query.js';
import { ensureTools, analyzerHarness, closedAddress, closePool, pool, startExampleApp, type RunningApp } from './analyzer-support.js';

// The performance analyzer is autocannon against the running app; the inventory API fails every
// fourth request, which shows up as non-2xx answers under load whatever the machine's speed.

beforeAll(ensureTools, 300_000);
const apps: RunningApp[] = [];
afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  await closePool();
});

const config = { durationSeconds: 1, connections: 4 };

describe('performance analyzer (autocannon)', () => {
  it("reports the inventory API's failures under load, with latency and rate as metrics", async () => {
    const inventory = await startExampleApp('llama-coder-app2');
    apps.push(inventory);
    const h = analyzerHarness();
    const out = await h.run({
      target: { model: 'llama-coder', app: 'app2', sourceDir: 'examples/analysis/apps/llama-coder-app2' },
      analyzer: 'performance',
      address: inventory.address,
      config,
    });
    expect(out.status).toBe('completed');
    const rows = await listFindings(pool(), { pipelineId: h.pipelineId });
    const non2xx = rows.find((r) => r.rule === 'perf/non-2xx-under-load');
    expect(non2xx).toMatchObject({ location: '/', severity: 'medium' });
    const metrics = (out as { metrics?: Record<string, number> }).metrics!;
    expect(metrics.answered).toBeGreaterThan(0);
    // Every fourth answer is a 500: a quarter of them, up to requests in flight at the end.
    expect(metrics.non2xx).toBeGreaterThanOrEqual(Math.floor(metrics.answered / 4) - config.connections);
    expect(metrics.p99Ms).toBeGreaterThanOrEqual(metrics.p50Ms);
    expect(metrics.rps).toBeGreaterThan(0);
  });

  it('the clean guestbook has no failures under load', async () => {
    const guestbook = await startExampleApp('llama-coder-app1');
    apps.push(guestbook);
    const h = analyzerHarness();
    const out = await h.run({
      target: { model: 'llama-coder', app: 'app1', sourceDir: 'examples/analysis/apps/llama-coder-app1' },
      analyzer: 'performance',
      address: guestbook.address,
      config: { ...config, p99BudgetMs: 60_000 },
    });
    expect(out).toMatchObject({ status: 'completed', findings: 0 });
  });

  it('nothing answering is failed with the reason, never completed', async () => {
    const h = analyzerHarness();
    const out = await h.run({
      target: { model: 'x', app: 'a', sourceDir: 'examples/analysis/apps/llama-coder-app1' },
      analyzer: 'performance',
      address: await closedAddress(),
      config,
    });
    expect(out.status).toBe('failed');
    expect(out.reason).toMatch(/nothing measured: no request to http:\/\/127\.0\.0\.1:\d+\/ was answered \(\d+ connection errors/);
  });
});
