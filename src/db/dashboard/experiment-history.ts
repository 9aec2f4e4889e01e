import type pg from 'pg';

export interface MetricPoint {
  batchId: string;
  experiment: string;
  value: number | null;
  finishedAt: string;
}

/**
 * One metric of the given experiments in every batch that ran them (the newest `limit` results): "how did knn's accuracy
 * move across batches?". Uses experiment_results_experiment_idx.
 */
export async function metricAcrossBatches(pool: pg.Pool, experiments: string[], metric: string, limit = 500): Promise<MetricPoint[]> {
  if (experiments.length === 0) return [];
  const { rows } = await pool.query(
    `SELECT batch_id, experiment, metrics -> $2 AS value, finished_at FROM experiment_results
      WHERE experiment = ANY($1) AND status = 'succeeded'
      ORDER BY finished_at DESC LIMIT $3`,
    [experiments, metric, limit],
  );
  // The newest `limit` points, oldest first.
  return rows.reverse().map((r) => ({
    batchId: r.batch_id,
    experiment: r.experiment,
    value: typeof r.value === 'number' ? r.value : null,
    finishedAt: new Date(r.finished_at).toISOString(),
  }));
}
