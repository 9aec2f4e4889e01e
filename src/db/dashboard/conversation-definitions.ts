import type pg from 'pg';

/** Definitions seen in the audit log in the last `days` days, with counts (metrics index scan). */
export async function conversationDefinitions(pool: pg.Pool, days = 30): Promise<{ definition: string; attempts: number; items: number; lastAt: string }[]> {
  const { rows } = await pool.query(
    `SELECT definition, count(*)::int AS attempts, count(DISTINCT item_key)::int AS items, max(finished_at) AS last_at
       FROM conversation_attempts WHERE finished_at >= now() - make_interval(days => $1::int)
      GROUP BY definition ORDER BY max(finished_at) DESC`,
    [days],
  );
  return rows.map((r) => ({ definition: r.definition, attempts: r.attempts, items: r.items, lastAt: new Date(r.last_at).toISOString() }));
}
