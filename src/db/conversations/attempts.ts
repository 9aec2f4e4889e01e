import type pg from 'pg';

// The conversation audit log: one append-only row per attempt of every step.
//
// What is written: only rows the conversationRun workflow built after the attempt's outcome was
// already in its history — success, failure, or a timeout that Temporal (or, for a call made in
// the run's own worker, its stall watchdog) declared. Who writes them: a completed attempt's row is
// handed to the run's next model call, queued or local, which writes it before calling the model;
// every other row, and any the next call did not confirm, the workflow writes
// through a local activity, before a failure's row and before the run ends. A model call never
// writes its own outcome. So when a timed-out attempt's reply arrives late, Temporal rejects its
// completion and there is no code path that could put it in this table; the seed's
// reaper/executor race cannot happen. The unique key (run, step, attempt) makes a repeated write
// of the same row a no-op, and a trigger rejects UPDATE and DELETE.

export type AttemptStatus = 'completed' | 'failed' | 'timed_out' | 'cancelled';

export interface AttemptRecord {
  workflowId: string;
  runId: string;
  batchId?: string;
  definition: string;
  itemKey: string;
  step: string;
  attempt: number;
  actorKind: 'llm' | 'script' | 'db';
  actor: string;
  input: unknown;
  output?: unknown;
  status: AttemptStatus;
  error?: string;
  errorType?: string;
  latencyMs?: number;
  /** Epoch ms (workflow time). */
  startedAt: number;
  finishedAt: number;
}

export interface AttemptRow {
  workflow_id: string;
  run_id: string;
  batch_id: string | null;
  definition: string;
  item_key: string;
  step: string;
  attempt: number;
  actor_kind: string;
  actor: string;
  input: unknown;
  output: unknown;
  status: AttemptStatus;
  error: string | null;
  error_type: string | null;
  latency_ms: number | null;
  started_at: Date;
  finished_at: Date;
}

/** One attempt as conversation_record_attempts takes it (071_conversation_write_functions.sql). */
function attemptJson(r: AttemptRecord) {
  return {
    workflow_id: r.workflowId,
    run_id: r.runId,
    batch_id: r.batchId ?? null,
    definition: r.definition,
    item_key: r.itemKey,
    step: r.step,
    attempt: r.attempt,
    actor_kind: r.actorKind,
    actor: r.actor,
    input: JSON.stringify(r.input ?? null),
    output: r.output === undefined ? null : JSON.stringify(r.output),
    status: r.status,
    error: r.error?.slice(0, 8000) ?? null,
    error_type: r.errorType ?? null,
    latency_ms: r.latencyMs === undefined ? null : Math.max(0, Math.round(r.latencyMs)),
    started_at: r.startedAt,
    finished_at: Math.max(r.finishedAt, r.startedAt),
  };
}

/** Attempt rows as the jsonb parameter of the audit's write functions, in order. */
export function attemptsParam(rows: AttemptRecord[]): string {
  return JSON.stringify(rows.map(attemptJson));
}

/** Inserts attempt rows in order; how many were new (a row already recorded is not written again). */
export async function insertAttempts(pool: pg.Pool, rows: AttemptRecord[]): Promise<number> {
  if (rows.length === 0) return 0;
  const res = await pool.query<{ written: number }>('SELECT conversation_record_attempts($1::jsonb) AS written', [attemptsParam(rows)]);
  return res.rows[0]!.written;
}

/** Inserts one attempt row; false when that (run, step, attempt) was already recorded. */
export async function insertAttempt(pool: pg.Pool, r: AttemptRecord): Promise<boolean> {
  return (await insertAttempts(pool, [r])) > 0;
}

export interface AttemptQuery {
  workflowId?: string;
  runId?: string;
  batchId?: string;
  definition?: string;
  itemKey?: string;
}

/** Audit rows in the order they happened, for the CLI and tests. */
export async function listAttempts(pool: pg.Pool, q: AttemptQuery): Promise<AttemptRow[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  for (const [col, v] of [
    ['workflow_id', q.workflowId],
    ['run_id', q.runId],
    ['batch_id', q.batchId],
    ['definition', q.definition],
    ['item_key', q.itemKey],
  ] as const) {
    if (v !== undefined) {
      args.push(v);
      where.push(`${col} = $${args.length}`);
    }
  }
  const res = await pool.query<AttemptRow>(
    `SELECT workflow_id, run_id, batch_id, definition, item_key, step, attempt, actor_kind, actor, input, output,
            status, error, error_type, latency_ms, started_at, finished_at
     FROM conversation_attempts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY id`,
    args,
  );
  return res.rows;
}
