import type pg from 'pg';

// Finished units of work per hour over the last `hours` hours, per pipeline: simulation
// replicates and conversation step attempts from the trigger-kept counters (052), experiments
// and training jobs (small tables) by a range scan on finished_at.

export interface ThroughputRow {
  hour: string;
  pipeline: string;
  count: number;
}

export async function throughputPerHour(pool: pg.Pool, hours = 24): Promise<ThroughputRow[]> {
  const { rows } = await pool.query<{ hour: Date; pipeline: string; count: number }>(
    `WITH since AS (SELECT dashboard_hour(now()) - make_interval(hours => $1::int - 1) AS t)
     SELECT hour, pipeline, count::int FROM (
       SELECT hour, pipeline, sum(count) AS count FROM dashboard_hourly, since WHERE hour >= since.t GROUP BY 1, 2
       UNION ALL
       SELECT dashboard_hour(finished_at), 'experiments', count(*) FROM experiment_results, since WHERE finished_at >= since.t GROUP BY 1
       UNION ALL
       SELECT dashboard_hour(finished_at), 'training jobs', count(*) FROM training_jobs, since WHERE finished_at >= since.t GROUP BY 1
     ) t ORDER BY hour, pipeline`,
    [hours],
  );
  return rows.map((r) => ({ hour: new Date(r.hour).toISOString(), pipeline: r.pipeline, count: r.count }));
}
