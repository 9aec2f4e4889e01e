import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAttempt, type AttemptRecord } from '../src/db/conversations/attempts.js';
import { applyTimeoutRecommendations, recommendTimeouts, stepMetrics } from '../src/db/conversations/step-metrics.js';
import { ensureConversationMetricsSchedule } from '../src/client/schedules.js';
import { conversationDefinitionSchema, type ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import { assertValidDefinition } from '../src/shared/conversations/definition-validator.js';
import { startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { waitFor } from './support/procs.js';

// Metrics are computed in SQL from the audit log; here the log is filled with known latencies so
// the percentiles can be checked against an independent computation.

let worker: TestWorker;
beforeAll(async () => {
  worker = await startTestWorker();
});
afterAll(async () => worker?.stop());

/** percentile_cont, computed independently. */
function percentile(sorted: number[], p: number): number {
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

const now = Date.now();
async function fill(definition: string, step: string, actor: string, latencies: number[], failures = 0, timeouts = 0) {
  const runId = randomUUID();
  let attempt = 0;
  const row = (status: AttemptRecord['status'], latencyMs: number): AttemptRecord => ({
    workflowId: `wf-${definition}`,
    runId,
    definition,
    itemKey: 'k',
    step,
    attempt: ++attempt,
    actorKind: 'llm',
    actor,
    input: { prompt: 'p' },
    status,
    latencyMs,
    startedAt: now - latencyMs - 1000,
    finishedAt: now - 1000,
  });
  for (const l of latencies) await insertAttempt(worker.pool, row('completed', l));
  for (let i = 0; i < failures; i++) await insertAttempt(worker.pool, row('failed', 5));
  for (let i = 0; i < timeouts; i++) await insertAttempt(worker.pool, row('timed_out', 120_000));
}

function definition(name: string): ConversationDefinitionInput {
  return {
    name,
    item: { key: 'id', fields: ['id'] },
    start: 'extract',
    defaults: { timeout: '2m', heartbeatTimeout: '30s' },
    steps: [
      { id: 'extract', actor: { kind: 'llm', model: 'qwen2.5:7b', prompt: 'x' }, next: 'format' },
      { id: 'format', actor: { kind: 'llm', model: 'qwen2.5:7b', prompt: 'y' }, next: 'rare' },
      { id: 'rare', actor: { kind: 'llm', model: 'qwen2.5:7b', prompt: 'z' }, end: true },
    ],
  };
}

describe('conversation metrics', () => {
  it('computes count, failure rate and p50/p95/p99 per step and model in SQL', async () => {
    const name = `metrics-${randomUUID().slice(0, 8)}`;
    const slow = Array.from({ length: 100 }, (_, i) => 10_000 + i * 800); // 10 s .. 89.2 s
    await fill(name, 'extract', 'qwen2.5:7b', slow, 2, 3);
    await fill(name, 'extract', 'gemma3:4b', [1000, 2000, 3000]);
    const m = await stepMetrics(worker.pool, { definition: name });
    const qwen = m.find((r) => r.actor === 'qwen2.5:7b')!;
    expect(qwen).toMatchObject({ attempts: 105, completed: 100, failed: 2, timedOut: 3 });
    expect(qwen.failureRate).toBeCloseTo(5 / 105, 10);
    expect(qwen.p50Ms).toBeCloseTo(percentile(slow, 0.5), 6);
    expect(qwen.p95Ms).toBeCloseTo(percentile(slow, 0.95), 6);
    expect(qwen.p99Ms).toBeCloseTo(percentile(slow, 0.99), 6);
    expect(m.find((r) => r.actor === 'gemma3:4b')).toMatchObject({ attempts: 3, p50Ms: 2000, failureRate: 0 });
  });

  it('recommends max(2 × p99, floor) per step, flags tight and loose timeouts, and applies them to the definition file', async () => {
    const name = `recommend-${randomUUID().slice(0, 8)}`;
    const slow = Array.from({ length: 100 }, (_, i) => 10_000 + i * 800); // p99 ≈ 88.4 s
    const fast = Array.from({ length: 50 }, (_, i) => 100 + i); // p99 ≈ 148.5 ms
    await fill(name, 'extract', 'qwen2.5:7b', slow);
    await fill(name, 'format', 'qwen2.5:7b', fast);
    await fill(name, 'rare', 'qwen2.5:7b', [500, 600]);
    const def = conversationDefinitionSchema.parse(definition(name));
    const recs = await recommendTimeouts(worker.pool, def);
    const by = Object.fromEntries(recs.map((r) => [r.step, r]));
    // 2 × 88.4 s = 176.8 s → 180 s; the configured 2 m kills legitimately slow extractions.
    expect(by.extract).toMatchObject({ verdict: 'too_tight', recommended: '3m', samples: 100 });
    // 2 × 148.5 ms is under the 5 s floor; 2 m is far too much grace for it.
    expect(by.format).toMatchObject({ verdict: 'too_loose', recommended: '5s' });
    expect(by.rare).toMatchObject({ verdict: 'insufficient_data', recommended: null });

    const file = path.join(tempDir('metrics'), 'def.json');
    writeFileSync(file, JSON.stringify(definition(name), null, 2));
    const changed = await applyTimeoutRecommendations(file, recs);
    expect(changed).toEqual(['extract', 'format']);
    const updated = assertValidDefinition(JSON.parse(readFileSync(file, 'utf8')));
    expect(updated.steps.map((s) => [s.id, s.timeout, s.heartbeatTimeout])).toEqual([
      ['extract', '3m', undefined],
      // The 30 s heartbeat default would exceed the new 5 s timeout: it is brought under it.
      ['format', '5s', '2s'],
      ['rare', undefined, undefined],
    ]);
  });

  it('a daily Schedule refreshes conversation_metrics; creating it again only updates it', async () => {
    const name = `scheduled-${randomUUID().slice(0, 8)}`;
    await fill(name, 'extract', 'qwen2.5:7b', [100, 200, 300]);
    const scheduleId = `metrics-test-${randomUUID().slice(0, 8)}`;
    expect(await ensureConversationMetricsSchedule(worker.client, { taskQueue: worker.taskQueue, scheduleId })).toBe('created');
    expect(await ensureConversationMetricsSchedule(worker.client, { taskQueue: worker.taskQueue, scheduleId, hour: 4 })).toBe('updated');
    const handle = worker.client.schedule.getHandle(scheduleId);
    try {
      const desc = await handle.describe();
      expect(desc.action).toMatchObject({ type: 'startWorkflow', workflowType: 'conversationMetrics' });
      expect(desc.spec.calendars?.[0]?.hour).toEqual([{ start: 4, end: 4, step: 1 }]);
      await handle.trigger();
      const row = await waitFor(async () => {
        const { rows } = await worker.pool.query('SELECT attempts, p50_ms FROM conversation_metrics WHERE definition = $1', [name]);
        return rows[0];
      }, 'the scheduled refresh to write metrics');
      expect(row).toMatchObject({ attempts: 3, p50_ms: 200 });
    } finally {
      await handle.delete();
    }
  });
});
