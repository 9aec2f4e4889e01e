import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listAttempts } from '../src/db/conversations/attempts.js';
import { conversationProgress, startConversationBatch } from '../src/client/conversations.js';
import type { ConversationBatchResult, ConversationDefinitionInput, ConversationRunResult } from '../src/shared/conversations/schemas.js';
import { startDevServer, type DevServer } from '../scripts/lib/dev-server.js';
import { startConversationStack, type ConversationStack } from './support/conversations.js';
import { runUntilWorkerKilled, startSuccessor } from './support/conversation-worker.js';
import { startFakeModelServer } from './support/fake-ollama.js';
import { connectTestClient, tempDir, uniqueQueue } from './support/harness.js';
import { waitFor } from './support/procs.js';

// Crashes and restarts: nothing here may need a manual step (the seed resumed 462 "interrupted"
// workflows by SQL, twice, and hand-failed stuck interactions).

function twoStep(model: string, name: string): ConversationDefinitionInput {
  return {
    name,
    item: { key: 'id', fields: ['id', 'topic'] },
    start: 'ask',
    defaults: {
      timeout: '30s',
      heartbeatTimeout: '2s',
      retry: { maximumAttempts: 5, initialInterval: '200ms', backoffCoefficient: 1, maximumInterval: '1s' },
    },
    steps: [
      { id: 'ask', actor: { kind: 'llm', model, prompt: 'Tell me about {{item.topic}}.' }, next: 'summarise' },
      { id: 'summarise', actor: { kind: 'llm', model, prompt: 'Summarise: {{steps.ask.text}}' }, end: true },
    ],
  };
}

/** Exactly one completed row per (item, step), and no step left without one. */
function completedOncePerStep(rows: { item_key: string; step: string; status: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of rows) {
    const k = `${r.item_key}/${r.step}`;
    counts.set(k, (counts.get(k) ?? 0) + (r.status === 'completed' ? 1 : 0));
  }
  return counts;
}

describe('conversation crashes and restarts', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('worker SIGKILLed mid-call: a fresh worker finishes the item with exactly one successful row per step', async () => {
    // A long, steadily streaming reply: the worker dies in the middle of it. With a limit of 1 the
    // model worker's poller holds the only slot, so the call is queued (Temporal's heartbeat
    // timeout declares it lost); conversation-local-call.test.ts kills a call made locally.
    const { handle, fake, registry, model, taskQueue } = await runUntilWorkerKilled({
      base: 'slow',
      maxConcurrency: 1,
      definition: (model, suffix) => twoStep(model, `crash-${suffix}`),
      cleanups,
    });
    await waitFor(() => fake.inFlight(model) === 0, 'the dead worker’s connection closed');
    fake.setBehaviour(model, { reply: 'fine', chunkSize: 2 });
    const worker = await startSuccessor(taskQueue, registry, cleanups);

    const result = (await handle.result()) as ConversationRunResult;
    expect(result.path.map((p) => p.step)).toEqual(['ask', 'summarise']);
    const rows = await listAttempts(worker.pool, { workflowId: handle.workflowId });
    expect(rows.map((r) => [r.step, r.attempt, r.status, r.error_type])).toEqual([
      ['ask', 1, 'timed_out', 'HEARTBEAT'],
      ['ask', 2, 'completed', null],
      ['summarise', 1, 'completed', null],
    ]);
    expect([...completedOncePerStep(rows).values()]).toEqual([1, 1]);
    expect(fake.requests.filter((r) => r.model === model)[0]!.outcome).toBe('aborted');
  });

  it('worker and dev server restarted mid-batch: the batch completes with no manual action', async () => {
    const dbFile = path.join(tempDir('conv-restart'), 'temporal.db');
    let server: DevServer = await startDevServer({ dbFile });
    cleanups.push(() => server.stop());
    const { port, address } = server;
    const taskQueue = uniqueQueue('restart');
    const fake = await startFakeModelServer();
    cleanups.push(() => fake.close());
    let stack: ConversationStack = await startConversationStack({ address, taskQueue, fake, models: { steady: { maxConcurrency: 2 } } });
    cleanups.push(() => stack.stop());
    const model = stack.model('steady');
    fake.setBehaviour(model, { reply: 'z'.repeat(12), chunkSize: 2, chunkDelayMs: 40 });

    const id = `restart-${stack.suffix}`;
    const items = Array.from({ length: 8 }, (_, i) => ({ id: `r${i}`, topic: `topic ${i}` }));
    const handle = await startConversationBatch(
      stack.worker.client,
      {
        batchId: id,
        definition: twoStep(model, `restart-${stack.suffix}`),
        source: { kind: 'items', items },
        concurrency: 2,
        pageSize: 4,
        notify: false,
      },
      { taskQueue },
    );
    await waitFor(
      async () =>
        ((await conversationProgress(stack.worker.client.workflow.getHandle(handle.workflowId)).catch(() => undefined))?.completed ?? 0) >=
        2,
      'two items done',
    );

    await stack.stop();
    await server.stop();
    server = await startDevServer({ dbFile, port });
    stack = await startConversationStack({ address, taskQueue, fake, suffix: stack.suffix, models: { steady: { maxConcurrency: 2 } } });

    const { client, connection } = await connectTestClient(address);
    cleanups.push(() => connection.close());
    const result = (await client.workflow.getHandle(handle.workflowId).result()) as ConversationBatchResult;
    expect(result).toMatchObject({ status: 'source_exhausted', completed: 8, failed: 0 });
    const rows = await listAttempts(stack.worker.pool, { batchId: id });
    const counts = completedOncePerStep(rows);
    expect(counts.size).toBe(16);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
  });
});
