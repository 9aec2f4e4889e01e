import type pg from 'pg';

export interface LatencyBucket {
  bucket: string;
  step: string;
  actor: string;
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/**
 * p50/p95/p99 of completed attempts per step and model (actor), per hour over the last `hours`
 * hours, for one definition (conversation_attempts_definition_finished_idx).
 */
export async function conversationLatency(pool: pg.Pool, definition: string, hours = 24): Promise<LatencyBucket[]> {
  const { rows } = await pool.query(
    `SELECT dashboard_hour(finished_at) AS bucket, step, actor, count(*)::int AS count,
            percentile_cont(0.50) WITHIN GROUP (ORDER BY latency_ms) AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99
       FROM conversation_attempts
      WHERE definition = $1 AND status = 'completed'
        AND finished_at >= dashboard_hour(now()) - make_interval(hours => $2::int - 1)
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    [definition, hours],
  );
  return rows.map((r) => ({
    bucket: new Date(r.bucket).toISOString(),
    step: r.step,
    actor: r.actor,
    count: r.count,
    p50Ms: r.p50,
    p95Ms: r.p95,
    p99Ms: r.p99,
  }));
}
