import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { listAttempts } from '../src/db/conversations/attempts.js';
import type { ConversationDefinitionInput, ConversationRunResult } from '../src/shared/conversations/schemas.js';
import { loadExample, startConversationStack, twoStepDefinition, withModels, type ConversationStack } from './support/conversations.js';
import { conversationRun } from '../src/workflows/index.js';

// conversationRun end to end: real dev server, real PostgreSQL, real worker and model workers,
// and a local HTTP server speaking the Ollama / OpenAI streaming protocols.

let stack: ConversationStack;

beforeAll(async () => {
  stack = await startConversationStack({
    models: {
      'qwen2.5:7b': { maxConcurrency: 2 },
      'gemma3:4b': { maxConcurrency: 1 },
      'mistral:latest': { maxConcurrency: 1, jsonMode: 'object' },
      fast: { maxConcurrency: 2 },
      openai: { maxConcurrency: 2, provider: 'openai', apiKeyEnv: 'SHEPHERD_TEST_OPENAI_KEY' },
    },
  });
});
afterAll(async () => stack?.stop());

const item = (key: string, name = 'Kubernetes cluster administration') => ({
  skill_id: key,
  skill_name: name,
  source_posting: 'Platform Engineer, Berlin',
});

function exampleDef(): ConversationDefinitionInput {
  return withModels(loadExample(), (m) => stack.model(m), `wf3005-${stack.suffix}`);
}

function run(definition: unknown, it: Record<string, unknown>, workflowId = `conv-${randomUUID().slice(0, 8)}`) {
  return stack.worker.client.workflow.start(conversationRun, {
    taskQueue: stack.worker.taskQueue,
    workflowId,
    args: [{ definition, item: it }],
  });
}

/** A two-step definition on one model, with tight timeouts for failure tests. */
function twoStep(model: string, ask: Partial<ConversationDefinitionInput['steps'][number]> = {}): ConversationDefinitionInput {
  return twoStepDefinition(`two-${stack.suffix}-${randomUUID().slice(0, 4)}`, model, { ask });
}

describe('conversationRun', () => {
  it('runs the WF3005 example for one skill: every step once, routed, audited, decision saved and applied', async () => {
    const def = exampleDef();
    const handle = await run(def, item('sk-1001'));
    const result = (await handle.result()) as ConversationRunResult;
    expect(result.status).toBe('completed');
    expect(result.path.map((p) => p.step)).toEqual([
      'triage',
      'classify',
      'grade',
      'challenge',
      'defend',
      'final',
      'validate',
      'save',
      'apply',
    ]);
    expect(result.path.at(-1)!.output).toMatchObject({ applied: true });

    const rows = await listAttempts(stack.worker.pool, { workflowId: handle.workflowId });
    expect(rows.map((r) => `${r.step}:${r.attempt}:${r.status}`)).toEqual(result.path.map((p) => `${p.step}:1:completed`));
    const triage = rows.find((r) => r.step === 'triage')!;
    expect(triage.actor).toBe(stack.model('qwen2.5:7b'));
    expect((triage.input as { prompt: string }).prompt).toContain('Skill: Kubernetes cluster administration');
    expect(triage.output).toMatchObject({ verdict: 'skill' });
    const final = rows.find((r) => r.step === 'final')!;
    // The judge saw the defence: a template referencing an earlier step's text output.
    expect((final.input as { prompt: string }).prompt).toMatch(/Defence: ok from defend|Defence: ok from/);
    const validate = rows.find((r) => r.step === 'validate')!;
    expect(validate.actor_kind).toBe('script');
    expect(validate.output).toMatchObject({ valid: true });

    const { rows: assigned } = await stack.worker.pool.query(
      'SELECT decision FROM conversation_assignments WHERE definition = $1 AND item_key = $2',
      [def.name, 'sk-1001'],
    );
    expect(assigned).toHaveLength(1);
    expect(assigned[0].decision).toMatchObject({
      outcome: 'assign',
      domain: 'technology',
      parent: `parent from ${stack.model('gemma3:4b')}`,
    });
  });

  it('routes on an output field: a triaged-out item is discarded and nothing is applied', async () => {
    const def = exampleDef();
    stack.fake.setBehaviour(stack.model('qwen2.5:7b'), {
      choose: { verdict: (req) => (req.prompt.includes('competitive salary') ? 'not_skill' : 'skill') },
    });
    try {
      const handle = await run(def, item('sk-1013', 'competitive salary'));
      const result = (await handle.result()) as ConversationRunResult;
      expect(result.path.map((p) => p.step)).toEqual(['triage', 'discard']);
      const { rows } = await stack.worker.pool.query('SELECT decision FROM conversation_decisions WHERE run_id = $1', [
        handle.firstExecutionRunId,
      ]);
      expect(rows[0].decision).toMatchObject({ outcome: 'discard', reason: `reason from ${stack.model('qwen2.5:7b')}` });
      const { rows: applied } = await stack.worker.pool.query(
        'SELECT 1 FROM conversation_assignments WHERE definition = $1 AND item_key = $2',
        [def.name, 'sk-1013'],
      );
      expect(applied).toHaveLength(0);
    } finally {
      stack.fake.setBehaviour(stack.model('qwen2.5:7b'), {});
    }
  });

  it('a model that hangs mid-stream is caught by the heartbeat timeout; the retry succeeds and the audit log shows both attempts', async () => {
    const model = stack.model('fast');
    stack.fake.setBehaviour(model, { reply: 'a reply streamed in small pieces', chunkSize: 4, hang: { afterChunks: 2, times: 1 } });
    const handle = await run(twoStep(model), { id: 'hang-1', topic: 'heartbeats' });
    const result = (await handle.result()) as ConversationRunResult;
    expect(result.path.map((p) => [p.step, p.attempts])).toEqual([
      ['ask', 2],
      ['summarise', 1],
    ]);
    // Let the hung reply finish now, late: Temporal rejects it and it has no way into the audit log.
    stack.fake.releaseHangs();
    const hung = stack.fake.requests.find((r) => r.model === model && r.chunksSent === 2 && r.outcome !== 'done');
    expect(hung).toBeDefined();
    await new Promise((r) => setTimeout(r, 500));

    const rows = await listAttempts(stack.worker.pool, { workflowId: handle.workflowId });
    expect(rows.map((r) => [r.step, r.attempt, r.status, r.error_type])).toEqual([
      ['ask', 1, 'timed_out', 'HEARTBEAT'],
      ['ask', 2, 'completed', null],
      ['summarise', 1, 'completed', null],
    ]);
    expect(rows[0]!.error).toContain('no heartbeat (no streamed output) for 1s');
    stack.fake.setBehaviour(model, {});
  });

  it('a slow model that keeps streaming is never killed, however long the whole reply takes', async () => {
    const model = stack.model('fast');
    // 8 chunks, 250 ms apart: ~2 s in total, twice the heartbeat timeout of 1 s.
    stack.fake.setBehaviour(model, { reply: 'x'.repeat(8), chunkSize: 1, chunkDelayMs: 250 });
    try {
      const handle = await run(twoStep(model), { id: 'slow-1', topic: 'patience' });
      const result = (await handle.result()) as ConversationRunResult;
      expect(result.path.map((p) => p.attempts)).toEqual([1, 1]);
      const rows = await listAttempts(stack.worker.pool, { workflowId: handle.workflowId });
      expect(rows.every((r) => r.status === 'completed')).toBe(true);
      expect(rows[0]!.latency_ms).toBeGreaterThan(1000); // longer than the heartbeat timeout, and fine
    } finally {
      stack.fake.setBehaviour(model, {});
    }
  });

  it('a non-retryable model error fails the item visibly, naming the step; the failed attempt is audited', async () => {
    const model = stack.model('fast');
    stack.fake.setBehaviour(model, { error: { status: 404, message: `model '${model}' not found, try pulling it first`, times: 1 } });
    const handle = await run(twoStep(model), { id: 'missing-1', topic: 'absence' });
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as { message: string; type?: string };
    expect(cause.type).toBe('StepFailed');
    expect(cause.message).toContain("step 'ask' failed (not retryable, attempt 1)");
    expect(cause.message).toContain('not found, try pulling it first');
    const rows = await listAttempts(stack.worker.pool, { workflowId: handle.workflowId });
    expect(rows.map((r) => [r.step, r.attempt, r.status, r.error_type])).toEqual([['ask', 1, 'failed', 'ModelRequestRejected']]);
  });

  it('retries a model reply that does not match the declared output, up to the step maximum', async () => {
    const model = stack.model('fast');
    const def: ConversationDefinitionInput = {
      ...twoStep(model),
      steps: [
        {
          id: 'ask',
          actor: { kind: 'llm', model, prompt: 'Rate {{item.topic}}.' },
          output: { format: 'json', fields: { score: 'number' } },
          retry: { maximumAttempts: 2 },
          end: true,
        },
      ],
    };
    stack.fake.setBehaviour(model, { reply: 'I would rather not say.' });
    try {
      const handle = await run(def, { id: 'prose-1', topic: 'JSON' });
      const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
      expect((err.cause as Error).message).toContain("step 'ask' failed after 2 attempt(s)");
      const rows = await listAttempts(stack.worker.pool, { workflowId: handle.workflowId });
      expect(rows.map((r) => [r.attempt, r.status, r.error_type])).toEqual([
        [1, 'failed', 'InvalidModelOutput'],
        [2, 'failed', 'InvalidModelOutput'],
      ]);
    } finally {
      stack.fake.setBehaviour(model, {});
    }
  });

  it('talks to an OpenAI-compatible server with the key from env', async () => {
    process.env.SHEPHERD_TEST_OPENAI_KEY = 'sk-conversation-test';
    const model = stack.model('openai');
    const handle = await run(twoStep(model), { id: 'oai-1', topic: 'SSE' });
    const result = (await handle.result()) as ConversationRunResult;
    expect(result.status).toBe('completed');
    const reqs = stack.fake.requests.filter((r) => r.model === model);
    expect(reqs.map((r) => r.provider)).toEqual(['openai', 'openai']);
    expect(reqs[0]!.headers.authorization).toBe('Bearer sk-conversation-test');
    delete process.env.SHEPHERD_TEST_OPENAI_KEY;
  });

  it("rejects the seed's unwired definition before any step runs, naming 'save' and 'apply'", async () => {
    const before = stack.fake.requests.length;
    const handle = await run(loadExample('wf3005-unwired.json'), item('sk-1002'));
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = err.cause as { message: string; type?: string };
    expect(cause.type).toBe('InvalidDefinition');
    expect(cause.message).toContain("step 'save' is unreachable");
    expect(cause.message).toContain("step 'apply' has no actor");
    expect(stack.fake.requests.length).toBe(before);
  });

  it('checks the models of a run started on its own inside its first workflow task, and refuses one no worker serves', async () => {
    const ok = await run(twoStep(stack.model('fast')), { id: 'm-1', topic: 'queues' });
    expect(((await ok.result()) as ConversationRunResult).status).toBe('completed');
    const { events } = await ok.fetchHistory();
    const scheduled = (events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    // A local activity leaves a marker, not a dispatched activity and a second workflow task.
    expect(scheduled).toEqual(['callModel', 'callModel']);
    expect((events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(3);

    const before = stack.fake.requests.length;
    const refused = await run(twoStep('llama-none:70b'), { id: 'm-2', topic: 'queues' });
    const err = (await refused.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err.cause as { type?: string }).type).toBe('UnknownModel');
    expect((err.cause as Error).message).toContain('uses model(s) llama-none:70b that no worker serves');
    expect(stack.fake.requests.length).toBe(before);
  });

  it('rejects an item without the fields the definition needs', async () => {
    const handle = await run(exampleDef(), { skill_id: 'sk-x' });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect((err.cause as Error).message).toContain('item: missing field(s) skill_name, source_posting');
  });

  it('the audit log is append-only: rows cannot be updated or deleted', async () => {
    await expect(
      stack.worker.pool.query("UPDATE conversation_attempts SET status = 'completed' WHERE status = 'timed_out'"),
    ).rejects.toThrow(/append-only/);
    await expect(stack.worker.pool.query('DELETE FROM conversation_attempts')).rejects.toThrow(/append-only/);
  });
});
