import type pg from 'pg';

// Finished units of work per hour over the last `hours` hours, per pipeline: experiments,
// simulation replicates, training jobs, conversation step attempts. Each arm is a range scan on a
// finished_at index (051_dashboard_indexes.sql).

export interface ThroughputRow {
  hour: string;
  pipeline: string;
  count: number;
}

export async function throughputPerHour(pool: pg.Pool, hours = 24): Promise<ThroughputRow[]> {
  const { rows } = await pool.query<{ hour: Date; pipeline: string; count: number }>(
    `WITH since AS (SELECT date_trunc('hour', now(), 'UTC') - make_interval(hours => $1::int - 1) AS t)
     SELECT hour, pipeline, count::int FROM (
       SELECT date_trunc('hour', finished_at, 'UTC') AS hour, 'experiments' AS pipeline, count(*) FROM experiment_results, since WHERE finished_at >= since.t GROUP BY 1
       UNION ALL
       SELECT date_trunc('hour', finished_at, 'UTC'), 'simulation replicates', count(*) FROM simulation_replicates, since WHERE finished_at >= since.t GROUP BY 1
       UNION ALL
       SELECT date_trunc('hour', finished_at, 'UTC'), 'training jobs', count(*) FROM training_jobs, since WHERE finished_at >= since.t GROUP BY 1
       UNION ALL
       SELECT date_trunc('hour', finished_at, 'UTC'), 'conversation steps', count(*) FROM conversation_attempts, since WHERE finished_at >= since.t GROUP BY 1
     ) t ORDER BY hour, pipeline`,
    [hours],
  );
  return rows.map((r) => ({ hour: new Date(r.hour).toISOString(), pipeline: r.pipeline, count: r.count }));
}
