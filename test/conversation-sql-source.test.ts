import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConversationBatch } from '../src/client/conversations.js';
import type { ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import { startConversationStack, type ConversationStack } from './support/conversations.js';

// Issue 12 item 4: a SQL item source that retrying cannot fix (a data-modifying CTE, a syntax
// error, an undefined table, a permission error) fails the batch at once, non-retryably, naming
// the source, instead of being retried as if the database were down.
let stack: ConversationStack;
beforeAll(async () => {
  stack = await startConversationStack({ models: { solo: { maxConcurrency: 1 } } });
});
afterAll(() => stack?.stop());

function oneStep(model: string): ConversationDefinitionInput {
  return {
    name: `sqlsrc-${stack.suffix}-${randomUUID().slice(0, 4)}`,
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
  };
}

describe('conversation batch SQL source errors', () => {
  it('a data-modifying CTE, a syntax error, an undefined table and a permission error each fail at once, naming the source', async () => {
    const table = `sqlsrc_${stack.suffix.replace(/-/g, '')}`;
    const role = `noread_${stack.suffix.replace(/-/g, '')}`;
    await stack.worker.pool.query(`CREATE TABLE ${table} (skill_id int PRIMARY KEY, skill_name text)`);
    await stack.worker.pool.query(`INSERT INTO ${table} VALUES (1, 'one'), (2, 'two')`);
    await stack.worker.pool.query(`CREATE ROLE ${role}`);
    // Runs as a role without SELECT on the table: permission denied (42501).
    await stack.worker.pool.query(
      `CREATE FUNCTION ${table}_src() RETURNS TABLE (skill_id int, skill_name text) LANGUAGE sql SET role TO ${role} AS 'SELECT skill_id, skill_name FROM ${table}'`,
    );
    const cases: [string, string, string][] = [
      ['cte', `WITH gone AS (DELETE FROM ${table} RETURNING *) SELECT skill_id, skill_name FROM gone`, '0A000'],
      ['syntax', `SELEKT skill_id FROM ${table}`, '42601'],
      ['undefined', `SELECT skill_id, skill_name FROM no_such_table_${table}`, '42P01'],
      ['permission', `SELECT * FROM ${table}_src()`, '42501'],
    ];
    const model = stack.model('solo');
    stack.fake.setBehaviour(model, {});
    for (const [label, query, sqlstate] of cases) {
      const handle = await startConversationBatch(
        stack.worker.client,
        {
          batchId: `sql-${label}-${randomUUID().slice(0, 8)}`,
          definition: oneStep(model),
          source: { kind: 'sql', query, keyColumn: 'skill_id' },
          notify: false,
        },
        { taskQueue: stack.worker.taskQueue },
      );
      const outcome = await Promise.race([
        handle.result().catch((e: unknown) => e),
        new Promise((r) => setTimeout(() => r('still running'), 20_000)),
      ]);
      const history = (await handle.fetchHistory()).events ?? [];
      if (outcome === 'still running') await handle.terminate('sql-source test');
      const attempts = history
        .filter((e) => e.activityTaskStartedEventAttributes)
        .map((e) => e.activityTaskStartedEventAttributes!.attempt);
      const pending = outcome === 'still running' ? 'retrying' : 'done';
      expect(pending, `${label}: the source query is still being retried`).toBe('done');
      expect(outcome, label).toBeInstanceOf(WorkflowFailedError);
      const cause = (outcome as WorkflowFailedError).cause as Error & { cause?: Error & { nonRetryable?: boolean; type?: string } };
      expect(cause.cause?.nonRetryable, label).toBe(true);
      expect(cause.cause?.type).toBe('InvalidSourceQuery');
      expect(cause.cause?.message).toContain('source.query');
      expect(cause.cause?.message).toContain(`SQLSTATE ${sqlstate}`);
      expect(
        attempts.every((a) => a === 1),
        `${label}: attempts ${attempts}`,
      ).toBe(true);
    }
    const { rows } = await stack.worker.pool.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(rows[0].n).toBe(2);
  });
});
