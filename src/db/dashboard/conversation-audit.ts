import type pg from 'pg';

export interface AuditEntry {
  id: string;
  workflowId: string;
  runId: string;
  step: string;
  attempt: number;
  actorKind: string;
  actor: string;
  status: string;
  errorType: string | null;
  error: string | null;
  latencyMs: number | null;
  output: unknown;
  startedAt: string;
  finishedAt: string;
}

/** One item's audit log in the order it happened (conversation_attempts_item_idx). */
export async function itemAuditLog(pool: pg.Pool, definition: string, itemKey: string, limit = 500): Promise<AuditEntry[]> {
  const { rows } = await pool.query(
    `SELECT id, workflow_id, run_id, step, attempt, actor_kind, actor, status, error_type, error, latency_ms, output, started_at, finished_at
       FROM conversation_attempts WHERE definition = $1 AND item_key = $2 ORDER BY finished_at, id LIMIT $3`,
    [definition, itemKey, limit],
  );
  return rows.map((r) => ({
    id: String(r.id),
    workflowId: r.workflow_id,
    runId: r.run_id,
    step: r.step,
    attempt: r.attempt,
    actorKind: r.actor_kind,
    actor: r.actor,
    status: r.status,
    errorType: r.error_type,
    error: r.error ? String(r.error).slice(0, 2000) : null,
    latencyMs: r.latency_ms,
    output: r.output,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: new Date(r.finished_at).toISOString(),
  }));
}

/** The most recent items of a definition, to pick one from. */
export async function recentItems(
  pool: pg.Pool,
  definition: string,
  limit = 50,
): Promise<{ itemKey: string; lastStatus: string; lastAt: string }[]> {
  const { rows } = await pool.query(
    `SELECT DISTINCT ON (item_key) item_key, status, finished_at FROM (
       SELECT item_key, status, finished_at FROM conversation_attempts WHERE definition = $1 ORDER BY finished_at DESC LIMIT 1000) t
      ORDER BY item_key, finished_at DESC`,
    [definition],
  );
  return rows
    .map((r) => ({ itemKey: r.item_key, lastStatus: r.status, lastAt: new Date(r.finished_at).toISOString() }))
    .sort((a, b) => b.lastAt.localeCompare(a.lastAt))
    .slice(0, limit);
}
