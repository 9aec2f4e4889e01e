import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { listAttempts } from '../src/db/conversations/attempts.js';
import { conversationProgress, retryFailedItems, startConversationBatch } from '../src/client/conversations.js';
import type { ConversationBatchResult, ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import type { ModelRegistry } from '../src/config/models.js';
import {
  loadExample,
  loadItems,
  startConversationStack,
  startModelWorkers,
  withModels,
  type ConversationStack,
} from './support/conversations.js';
import { waitFor } from './support/procs.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';
import { conversationBatch, conversationRun } from '../src/workflows/index.js';

// conversationBatch end to end: pages, continue-as-new, per-model limits across two workers,
// failed items that fail alone and are retried, and the run-dry notice.

let stack: ConversationStack;
let hook: WebhookReceiver;

beforeAll(async () => {
  hook = await startWebhookReceiver();
  stack = await startConversationStack({
    deps: { webhookUrl: hook.url },
    models: {
      'qwen2.5:7b': { maxConcurrency: 2 },
      'gemma3:4b': { maxConcurrency: 1 },
      'mistral:latest': { maxConcurrency: 1, jsonMode: 'object' },
      solo: { maxConcurrency: 1 },
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  await hook?.close();
});

const batchId = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;

function oneStep(model: string, extra: Partial<ConversationDefinitionInput> = {}): ConversationDefinitionInput {
  return {
    name: `one-${stack.suffix}-${randomUUID().slice(0, 4)}`,
    item: { key: 'skill_id', fields: ['skill_id', 'skill_name'] },
    start: 'rate',
    defaults: {
      timeout: '20s',
      heartbeatTimeout: '2s',
      retry: { maximumAttempts: 2, initialInterval: '100ms', backoffCoefficient: 1, maximumInterval: '1s' },
    },
    steps: [
      {
        id: 'rate',
        actor: { kind: 'llm', model, prompt: 'Rate {{item.skill_name}}.' },
        output: { format: 'json', fields: { score: 'number' } },
        end: true,
      },
    ],
    ...extra,
  };
}

describe('conversationBatch', () => {
  it('runs the bundled JSONL through WF3005 page by page, keeps each model under its limit across two workers, and says when the source runs dry', async () => {
    // A second set of model workers on the same queues, sharing only the database with the first.
    const second = await startModelWorkers({ taskQueue: stack.worker.taskQueue, registry: stack.registry, pool: stack.worker.pool });
    const slow = { chunkSize: 8, chunkDelayMs: 15 };
    for (const m of ['qwen2.5:7b', 'gemma3:4b', 'mistral:latest']) stack.fake.setBehaviour(stack.model(m), slow);
    const received = hook.received.length;
    try {
      const def = withModels(loadExample(), (m) => stack.model(m), `wf3005-batch-${stack.suffix}`);
      const id = batchId('wf3005');
      const handle = await startConversationBatch(
        stack.worker.client,
        {
          batchId: id,
          definition: def,
          source: { kind: 'jsonl', path: 'examples/conversations/skills.jsonl' },
          concurrency: 6,
          pageSize: 10,
        },
        { taskQueue: stack.worker.taskQueue },
      );
      const result = (await handle.result()) as ConversationBatchResult;
      const items = loadItems();
      expect(result).toMatchObject({ status: 'source_exhausted', completed: items.length, failed: 0, pages: 3, notified: true });
      expect(result.message).toContain(`source ran dry: no more items for ${def.name} after 3 page(s); 24 completed, 0 failed.`);

      // One page per run: the first run continued as new after its page.
      const firstRun = await stack.worker.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
      expect(firstRun.status.name).toBe('CONTINUED_AS_NEW');

      // Per-model limits, as seen from the model server's side of the wire, over both workers.
      expect(stack.fake.maxInFlight(stack.model('gemma3:4b'))).toBe(1);
      expect(stack.fake.maxInFlight(stack.model('mistral:latest'))).toBe(1);
      expect(stack.fake.maxInFlight(stack.model('qwen2.5:7b'))).toBeLessThanOrEqual(2);
      // ... while different models ran at the same time.
      expect(stack.fake.maxInFlightTotal()).toBeGreaterThanOrEqual(2);

      // Exactly one completed audit row per step and item, and every item's decision applied.
      const rows = await listAttempts(stack.worker.pool, { batchId: id });
      const perStep = new Map<string, number>();
      for (const r of rows)
        if (r.status === 'completed') perStep.set(`${r.item_key}/${r.step}`, (perStep.get(`${r.item_key}/${r.step}`) ?? 0) + 1);
      expect([...perStep.values()].every((c) => c === 1)).toBe(true);
      expect(new Set(rows.map((r) => r.item_key))).toEqual(new Set(items.map((i) => i.skill_id)));
      const { rows: applied } = await stack.worker.pool.query(
        'SELECT count(*)::int AS n FROM conversation_assignments WHERE definition = $1',
        [def.name],
      );
      expect(applied[0].n).toBe(items.length);

      const notice = hook.received.slice(received).map((r) => r.body.text as string);
      expect(notice).toEqual([expect.stringContaining('source ran dry')]);
    } finally {
      second.models.shutdown();
      await second.running;
      for (const m of ['qwen2.5:7b', 'gemma3:4b', 'mistral:latest']) stack.fake.setBehaviour(stack.model(m), {});
    }
  });

  it('a failing item fails alone; the retryFailed signal re-runs it and the audit log keeps the failed attempts', async () => {
    const model = stack.model('solo');
    let broken = true;
    stack.fake.setBehaviour(model, { reply: (req) => (broken && req.prompt.includes('Rate B.') ? 'no JSON today' : '{"score": 4}') });
    const id = batchId('retry-signal');
    const handle = await startConversationBatch(
      stack.worker.client,
      {
        batchId: id,
        definition: oneStep(model),
        source: { kind: 'items', items: ['A', 'B', 'C'].map((k) => ({ skill_id: k, skill_name: k })) },
        holdForRetry: '2m',
        notify: false,
      },
      { taskQueue: stack.worker.taskQueue },
    );
    await waitFor(async () => {
      const p = await conversationProgress(stack.worker.client.workflow.getHandle(handle.workflowId)).catch(() => undefined);
      return p && p.completed === 2 && p.failed === 1 && p.running.length === 0;
    }, 'A and C completed, B failed');
    broken = false;
    const r = await retryFailedItems(stack.worker.client, handle.workflowId);
    expect(r.mode).toBe('signalled');
    const result = (await handle.result()) as ConversationBatchResult;
    expect(result).toMatchObject({ completed: 3, failed: 0, failedItems: [] });

    const rows = await listAttempts(stack.worker.pool, { batchId: id, itemKey: 'B' });
    expect(rows.map((x) => [x.attempt, x.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [1, 'completed'],
    ]);
    expect(new Set(rows.map((x) => x.run_id)).size).toBe(2); // the failed run and the retry run
  });

  it('a retryFailed signal that arrives while the batch announces running dry is run, not lost', async () => {
    const model = stack.model('solo');
    let broken = true;
    stack.fake.setBehaviour(model, { reply: (req) => (broken && req.prompt.includes('Rate Q.') ? 'no JSON today' : '{"score": 2}') });
    let release!: () => void;
    hook.hold = new Promise<void>((r) => (release = r));
    const id = batchId('retry-at-dry');
    try {
      const handle = await startConversationBatch(
        stack.worker.client,
        {
          batchId: id,
          definition: oneStep(model),
          source: { kind: 'items', items: ['P', 'Q'].map((k) => ({ skill_id: k, skill_name: k })) },
          notify: true,
        },
        { taskQueue: stack.worker.taskQueue },
      );
      // The batch is inside its last step: the run-dry notice is on the wire, unanswered.
      await waitFor(() => hook.received.some((r) => JSON.stringify(r.body).includes(id)), 'the run-dry notice sent');
      broken = false;
      expect(await retryFailedItems(stack.worker.client, handle.workflowId)).toMatchObject({ mode: 'signalled' });
      release();
      const result = (await handle.result()) as ConversationBatchResult;
      expect(result).toMatchObject({ status: 'source_exhausted', completed: 2, failed: 0, failedItems: [] });
      const rows = await listAttempts(stack.worker.pool, { batchId: id, itemKey: 'Q' });
      expect(rows.map((x) => x.status)).toEqual(['failed', 'failed', 'completed']);
      // The run that took the signal at the notice continued as new, and replays.
      const first = stack.worker.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId);
      expect((await first.describe()).status.name).toBe('CONTINUED_AS_NEW');
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: inject('workflowBundlePath') } },
        await first.fetchHistory(),
        handle.workflowId,
      );
    } finally {
      release();
      hook.hold = undefined;
    }
  });

  it('a batch cancelled while it announces running dry ends cancelled, not as an exhausted source', async () => {
    const model = stack.model('solo');
    stack.fake.setBehaviour(model, {});
    let release!: () => void;
    hook.hold = new Promise<void>((r) => (release = r));
    const id = batchId('cancel-at-dry');
    try {
      const handle = await startConversationBatch(
        stack.worker.client,
        { batchId: id, definition: oneStep(model), source: { kind: 'items', items: [{ skill_id: 'R', skill_name: 'R' }] }, notify: true },
        { taskQueue: stack.worker.taskQueue },
      );
      await waitFor(() => hook.received.some((r) => JSON.stringify(r.body).includes(id)), 'the run-dry notice sent');
      await handle.cancel();
      const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(err.cause).toBeInstanceOf(CancelledFailure);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
    } finally {
      release();
      hook.hold = undefined;
    }
  });

  it('after a batch has closed, retryFailedItems starts a batch over exactly its failed items', async () => {
    const model = stack.model('solo');
    let broken = true;
    stack.fake.setBehaviour(model, { reply: (req) => (broken && /Rate (X|Z)\./.test(req.prompt) ? 'nope' : '{"score": 1}') });
    const handle = await startConversationBatch(
      stack.worker.client,
      {
        batchId: batchId('retry-closed'),
        definition: oneStep(model),
        source: { kind: 'items', items: ['X', 'Y', 'Z'].map((k) => ({ skill_id: k, skill_name: k })) },
        notify: false,
      },
      { taskQueue: stack.worker.taskQueue },
    );
    const first = (await handle.result()) as ConversationBatchResult;
    expect(first.completed).toBe(1);
    expect(first.failedItems.map((f) => [f.key, f.step]).sort()).toEqual([
      ['X', 'rate'],
      ['Z', 'rate'],
    ]);
    expect(first.failedItems[0]!.error).toContain("step 'rate' failed after 2 attempt(s)");
    broken = false;
    const r = await retryFailedItems(stack.worker.client, handle.workflowId);
    expect(r).toMatchObject({ mode: 'started', items: 2 });
    const second = (await stack.worker.client.workflow.getHandle(r.workflowId).result()) as ConversationBatchResult;
    expect(second).toMatchObject({ completed: 2, failed: 0 });
  });

  it('reads items from a read-only SQL query, paged by key', async () => {
    const table = `skills_${stack.suffix.replace(/-/g, '')}`;
    await stack.worker.pool.query(`CREATE TABLE ${table} (skill_id int PRIMARY KEY, skill_name text, assigned boolean DEFAULT false)`);
    await stack.worker.pool.query(`INSERT INTO ${table} (skill_id, skill_name) SELECT g, 'skill ' || g FROM generate_series(1, 11) g`);
    const model = stack.model('solo');
    stack.fake.setBehaviour(model, {});
    const def = oneStep(model);
    const handle = await startConversationBatch(
      stack.worker.client,
      {
        batchId: batchId('sql'),
        definition: def,
        source: { kind: 'sql', query: `SELECT skill_id, skill_name FROM ${table} WHERE NOT assigned`, keyColumn: 'skill_id' },
        pageSize: 4,
        notify: false,
      },
      { taskQueue: stack.worker.taskQueue },
    );
    const result = (await handle.result()) as ConversationBatchResult;
    // Integer keys page in numeric order (9 < 10), not text order.
    expect(result).toMatchObject({ completed: 11, failed: 0, pages: 3 });
    const { rows } = await stack.worker.pool.query('SELECT DISTINCT item_key FROM conversation_attempts WHERE definition = $1', [def.name]);
    expect(rows.map((r) => Number(r.item_key)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

    // A query that would write (here through a function with a side effect) runs read-only and fails.
    await stack.worker.pool.query(`CREATE FUNCTION purge_${table}() RETURNS boolean LANGUAGE sql AS 'DELETE FROM ${table}; SELECT true'`);
    const writer = await startConversationBatch(
      stack.worker.client,
      {
        batchId: batchId('sql-write'),
        definition: def,
        source: { kind: 'sql', query: `SELECT skill_id, skill_name FROM ${table} WHERE purge_${table}()`, keyColumn: 'skill_id' },
        notify: false,
      },
      { taskQueue: stack.worker.taskQueue },
    );
    const err = (await writer.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = err.cause as Error & { cause?: Error };
    expect(cause.cause?.message ?? cause.message).toMatch(/read-only transaction/);
    const { rows: left } = await stack.worker.pool.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(left[0].n).toBe(11);
  });

  it('rejects a model that no worker serves before reading any item', async () => {
    const before = stack.fake.requests.length;
    const def = oneStep('llama-none:70b');
    const handle = await stack.worker.client.workflow.start(conversationBatch, {
      taskQueue: stack.worker.taskQueue,
      workflowId: `conversation-batch-${batchId('nomodel')}`,
      args: [{ batchId: batchId('nomodel'), definition: def, source: { kind: 'jsonl', path: 'examples/conversations/skills.jsonl' } }],
    });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect((err.cause as Error).message).toContain('uses model(s) llama-none:70b that no worker serves');
    expect(stack.fake.requests.length).toBe(before);
  });
});

describe('example inputs as shipped', () => {
  it('examples/conversations/run-one.json runs with the definition file and the example model names, and so does wf3005.yaml', async () => {
    const models = JSON.parse(readFileSync('examples/conversations/models.json', 'utf8')) as ModelRegistry;
    for (const cfg of Object.values(models.models)) cfg.baseUrl = stack.fake.url;
    const extra = await startModelWorkers({ taskQueue: stack.worker.taskQueue, registry: models, pool: stack.worker.pool });
    try {
      const input = JSON.parse(readFileSync('examples/conversations/run-one.json', 'utf8'));
      const result = (await stack.worker.client.workflow.execute(conversationRun, {
        taskQueue: stack.worker.taskQueue,
        workflowId: `conversation-example-${randomUUID().slice(0, 8)}`,
        args: [input],
      })) as { status: string; path: { step: string }[] };
      expect(result.status).toBe('completed');
      expect(result.path.at(-1)!.step).toBe('apply');

      // The same definition as YAML, through a batch: read at the client's edge and by the worker.
      const handle = await startConversationBatch(
        stack.worker.client,
        {
          batchId: batchId('yaml'),
          definitionFile: 'examples/conversations/wf3005.yaml',
          source: { kind: 'items', items: [input.item] },
          notify: false,
        },
        { taskQueue: stack.worker.taskQueue },
      );
      expect(await handle.result()).toMatchObject({ status: 'source_exhausted', completed: 1, failed: 0 });
    } finally {
      extra.models.shutdown();
      await extra.running;
    }
  });

  it('examples/conversations/batch-unwired.json fails at once, naming the unwired steps', async () => {
    const input = JSON.parse(readFileSync('examples/conversations/batch-unwired.json', 'utf8'));
    const handle = await stack.worker.client.workflow.start(conversationBatch, {
      taskQueue: stack.worker.taskQueue,
      workflowId: `conversation-batch-${input.batchId}-${randomUUID().slice(0, 8)}`,
      args: [input],
    });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    const cause = err.cause as Error & { type?: string };
    expect(cause.type).toBe('InvalidDefinition');
    expect(cause.message).toMatch(/step 'save' is unreachable.*step 'apply'|step 'apply'.*step 'save' is unreachable/);
  });
});
