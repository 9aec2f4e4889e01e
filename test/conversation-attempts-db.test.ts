import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/config/logger.js';
import { openDatabase, type Database } from '../src/db/open.js';
import { insertAttempts, listAttempts, type AttemptRecord } from '../src/db/conversations/attempts.js';
import { claimModelCallWithRows, modelCallClaimed } from '../src/db/conversations/model-calls.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

// The audit's two hot writes (071_conversation_write_functions.sql), on a PostgreSQL server and on
// the embedded database: rows in order, values as sent, a repeat skipped, claim and rows together.

function row(runId: string, step: string, attempt: number, extra: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    workflowId: `wf-${runId}`,
    runId,
    definition: 'def',
    itemKey: 'item-1',
    step,
    attempt,
    actorKind: 'llm',
    actor: 'model-a',
    input: { kind: 'llm', prompt: `prompt ${step}` },
    output: { text: `out ${step}` },
    status: 'completed',
    latencyMs: 12.6,
    startedAt: 1_700_000_000_123,
    finishedAt: 1_700_000_001_456,
    ...extra,
  };
}

describe.each(['postgres', 'embedded'] as const)('conversation audit writes (%s)', (kind) => {
  let db: Database;
  let testDb: TestDatabase | undefined;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'attempts-db-'));
    if (kind === 'postgres') testDb = await createTestDatabase();
    db = await openDatabase({ databaseUrl: testDb?.url, dataDir, logger: createLogger('error', 'test') });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes rows in the order given, with their values as sent, and skips one already recorded', async () => {
    const runId = randomUUID();
    const failed = row(runId, 's1', 2, {
      status: 'timed_out',
      output: undefined,
      error: 'x'.repeat(9000),
      errorType: 'HEARTBEAT',
      latencyMs: undefined,
      batchId: 'b-1',
    });
    expect(await insertAttempts(db.pool, [row(runId, 's1', 1), failed])).toBe(2);
    // s1#2 again, then a new row: only the new one is written, after the others.
    expect(await insertAttempts(db.pool, [failed, row(runId, 's2', 1, { input: null })])).toBe(1);

    const rows = await listAttempts(db.pool, { runId });
    expect(rows.map((r) => `${r.step}#${r.attempt}`)).toEqual(['s1#1', 's1#2', 's2#1']);
    const [first, second, third] = rows;
    expect(first).toMatchObject({ workflow_id: `wf-${runId}`, batch_id: null, status: 'completed', latency_ms: 13 });
    expect(first!.input).toEqual({ kind: 'llm', prompt: 'prompt s1' });
    expect(first!.output).toEqual({ text: 'out s1' });
    expect(first!.started_at.getTime()).toBe(1_700_000_000_123);
    expect(first!.finished_at.getTime()).toBe(1_700_000_001_456);
    expect(second).toMatchObject({ status: 'timed_out', error_type: 'HEARTBEAT', batch_id: 'b-1', latency_ms: null, output: null });
    expect(second!.error).toHaveLength(8000);
    expect(third!.input).toBeNull();
  });

  it('claims a call together with the rows it carries; a second claim of that attempt writes nothing', async () => {
    const runId = randomUUID();
    const key = { runId, step: 's2', attempt: 1 };
    expect(await claimModelCallWithRows(db.pool, { runId, step: 's1', attempt: 1 }, [])).toBe(true);
    expect(await claimModelCallWithRows(db.pool, key, [row(runId, 's1', 1)])).toBe(true);
    expect(await modelCallClaimed(db.pool, key)).toBe(true);
    expect(await claimModelCallWithRows(db.pool, key, [row(runId, 's1', 1), row(runId, 's1', 2)])).toBe(false);
    // The rows are written in the same transaction as the claim, whether or not it claims.
    const rows = await listAttempts(db.pool, { runId });
    expect(rows.map((r) => `${r.step}#${r.attempt}`)).toEqual(['s1#1', 's1#2']);
  });

  it('a claim whose rows cannot be written claims nothing', async () => {
    const runId = randomUUID();
    const key = { runId, step: 's2', attempt: 1 };
    // An actor kind the table refuses: the whole statement fails.
    const bad = row(runId, 's1', 1, { actorKind: 'nope' as AttemptRecord['actorKind'] });
    await expect(claimModelCallWithRows(db.pool, key, [bad])).rejects.toThrow(/actor_kind/);
    expect(await modelCallClaimed(db.pool, key)).toBe(false);
    expect(await listAttempts(db.pool, { runId })).toEqual([]);
  });
});
