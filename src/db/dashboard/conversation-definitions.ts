import type pg from 'pg';

/** Definitions with attempts in the last `days` days, from the hourly counters (052). */
export async function conversationDefinitions(
  pool: pg.Pool,
  days = 30,
): Promise<{ definition: string; attempts: number; lastHour: string }[]> {
  const { rows } = await pool.query(
    `SELECT key AS definition, sum(count)::int AS attempts, max(hour) AS last_hour FROM dashboard_hourly
      WHERE pipeline = 'conversation steps' AND hour >= now() - make_interval(days => $1::int)
      GROUP BY key ORDER BY max(hour) DESC, key`,
    [days],
  );
  return rows.map((r) => ({ definition: r.definition, attempts: r.attempts, lastHour: new Date(r.last_hour).toISOString() }));
}
