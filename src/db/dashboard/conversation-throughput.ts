import type pg from 'pg';

/** Conversation step attempts finished per hour and definition, by outcome (finished_at index). */
export async function conversationThroughput(pool: pg.Pool, hours = 24): Promise<{ hour: string; definition: string; completed: number; failed: number }[]> {
  const { rows } = await pool.query(
    `SELECT date_trunc('hour', finished_at, 'UTC') AS hour, definition,
            count(*) FILTER (WHERE status = 'completed')::int AS completed,
            count(*) FILTER (WHERE status <> 'completed')::int AS failed
       FROM conversation_attempts
      WHERE finished_at >= date_trunc('hour', now(), 'UTC') - make_interval(hours => $1::int - 1)
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [hours],
  );
  return rows.map((r) => ({ hour: new Date(r.hour).toISOString(), definition: r.definition, completed: r.completed, failed: r.failed }));
}
