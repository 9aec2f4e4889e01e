import type pg from 'pg';

/** Failed or timed-out attempts of one definition by failure type and step, last `days` days, with one example error. */
export async function conversationFailures(
  pool: pg.Pool,
  definition: string,
  days = 7,
): Promise<{ errorType: string; step: string; status: string; count: number; lastError: string | null; lastAt: string }[]> {
  const { rows } = await pool.query(
    `SELECT coalesce(error_type, status) AS error_type, step, status, count(*)::int AS count,
            (array_agg(error))[1] AS last_error, max(finished_at) AS last_at
       FROM conversation_attempts
      WHERE definition = $1 AND status <> 'completed' AND finished_at >= now() - make_interval(days => $2::int)
      GROUP BY 1, 2, 3 ORDER BY count DESC, 1, 2`,
    [definition, days],
  );
  return rows.map((r) => ({
    errorType: r.error_type,
    step: r.step,
    status: r.status,
    count: r.count,
    lastError: r.last_error ? String(r.last_error).slice(0, 500) : null,
    lastAt: new Date(r.last_at).toISOString(),
  }));
}
