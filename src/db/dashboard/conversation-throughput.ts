import type pg from 'pg';

/** Conversation step attempts finished per hour and definition (the 052 counters). */
export async function conversationThroughput(
  pool: pg.Pool,
  hours = 24,
  definition?: string,
): Promise<{ hour: string; definition: string; count: number }[]> {
  const { rows } = await pool.query(
    `SELECT hour, key AS definition, sum(count)::int AS count FROM dashboard_hourly
      WHERE pipeline = 'conversation steps' AND hour >= dashboard_hour(now()) - make_interval(hours => $1::int - 1)
        AND ($2::text IS NULL OR key = $2)
      GROUP BY 1, 2 ORDER BY 1, 2`,
    [hours, definition ?? null],
  );
  return rows.map((r) => ({ hour: new Date(r.hour).toISOString(), definition: r.definition, count: r.count }));
}
