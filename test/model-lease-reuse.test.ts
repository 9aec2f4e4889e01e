import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leasedSlots } from '../src/db/model-slots.js';
import type { ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import { startConversationStack, type ConversationStack } from './support/conversations.js';
import { conversationRun } from '../src/workflows/index.js';

// A model worker reserves a slot lease for its next poll as each call starts. The lease a call
// releases is kept as the process's spare, so the next step's reservation takes it without a
// statement: a run's model calls, one after another, take no new lease each. Real dev server,
// PostgreSQL, Shepherd and model workers; the acquire statements are counted on the way to the database.

const STEPS = 6;
let stack: ConversationStack;
const acquires = new Map<string, number>();

beforeAll(async () => {
  stack = await startConversationStack({
    models: { reuse: { maxConcurrency: 4 }, single: { maxConcurrency: 1 }, wide: { maxConcurrency: 32 } },
  });
  const pool = stack.worker.pool as unknown as { query: (...args: unknown[]) => unknown };
  const query = pool.query.bind(pool);
  pool.query = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('WITH candidate')) {
      const model = String((args[1] as unknown[])[0]);
      acquires.set(model, (acquires.get(model) ?? 0) + 1);
    }
    return query(...args);
  };
});
afterAll(async () => stack?.stop());

function chain(model: string): ConversationDefinitionInput {
  const steps = Array.from({ length: STEPS }, (_, i) => ({
    id: `s${i + 1}`,
    actor: { kind: 'llm' as const, model, prompt: i === 0 ? 'Start from {{item.id}}.' : `Continue from {{steps.s${i}.text}}.` },
    ...(i === STEPS - 1 ? { end: true as const } : { next: `s${i + 2}` }),
  }));
  return { name: `reuse-${stack.suffix}`, item: { key: 'id', fields: ['id'] }, start: 's1', steps };
}

async function run(model: string) {
  const id = `reuse-${randomUUID().slice(0, 8)}`;
  await stack.worker.client.workflow.execute(conversationRun, {
    taskQueue: stack.worker.taskQueue,
    workflowId: id,
    args: [{ definition: chain(model), item: { id } }],
  });
}

describe('model slot leases reused by one worker', () => {
  // 1: its poller holds the lease and the next reservation waits for it; 4: idle pollers hold every
  // slot; 32: more slots than pollers, so each call's next reservation finds the spare.
  it.each([
    ['single', 1],
    ['reuse', 4],
    ['wide', 32],
  ])('model calls one after another take no new lease per call (%s, limit %i), and stay under the limit', async (base, limit) => {
    const model = stack.model(base);
    await run(model);
    const before = acquires.get(model) ?? 0;
    await run(model);
    // None in steady state; at limit 32 the spare is given back after 500 ms unused, so a gap that
    // long (between the runs, or a slow workflow task on a loaded machine) costs one. Before: 16 /
    // 14 / 6 for the three limits, at least one per call.
    expect((acquires.get(model) ?? 0) - before).toBeLessThanOrEqual(2);
    expect(await leasedSlots(stack.worker.pool, model)).toBeLessThanOrEqual(limit);
    const supplier = stack.models.suppliers[Object.keys(stack.registry.models).indexOf(model)]!;
    expect(supplier.held).toBeLessThanOrEqual(limit);
  });
});
