import { describe, expect, it } from 'vitest';
import { oncePerThread } from '../src/shared/thread-memo.js';
import { conversationDefinitionSchema } from '../src/shared/conversations/schemas.js';

// Schemas are built once per workflow thread and serve every workflow on it (thread-memo.ts), so
// nothing a parse returns may be shared between two parses.

describe('oncePerThread', () => {
  it('builds a key once and returns the same value after', () => {
    let builds = 0;
    const build = () => ({ n: ++builds });
    const a = oncePerThread('test/thread-memo', build);
    const b = oncePerThread('test/thread-memo', build);
    expect(b).toBe(a);
    expect(builds).toBe(1);
  });
});

describe('shared conversation schemas', () => {
  const minimal = {
    name: 'memo',
    item: { key: 'id', fields: ['id'] },
    start: 'a',
    steps: [{ id: 'a', actor: { kind: 'llm', model: 'm', prompt: 'hi' }, end: true }],
  };

  it('give every parse its own default objects, nested ones included', () => {
    const one = conversationDefinitionSchema.parse(minimal);
    const two = conversationDefinitionSchema.parse(minimal);
    expect(two.defaults).toEqual(one.defaults);
    expect(two.defaults).not.toBe(one.defaults);
    expect(two.defaults.retry).not.toBe(one.defaults.retry);
    // A workflow that changed its parsed definition would change no other's.
    one.defaults.retry.maximumAttempts = 9;
    expect(conversationDefinitionSchema.parse(minimal).defaults.retry.maximumAttempts).toBe(3);
  });

  it('give a default inside an explicit defaults block its own object too', () => {
    const withDefaults = { ...minimal, defaults: { timeout: '1m' } };
    const one = conversationDefinitionSchema.parse(withDefaults);
    const two = conversationDefinitionSchema.parse(withDefaults);
    expect(two.defaults.retry).not.toBe(one.defaults.retry);
  });
});
