import type pg from 'pg';

export interface BatchRow {
  batchId: string;
  pipeline: string;
  status: string;
  summary: unknown;
  workflowId: string | null;
  startedAt: string;
  finishedAt: string | null;
  experiments: number;
  failed: number;
}

/** Experiment batches, newest first, with their result counts. */
export async function listExperimentBatches(pool: pg.Pool, limit = 100, batchId?: string): Promise<BatchRow[]> {
  const { rows } = await pool.query(
    `SELECT b.batch_id, b.pipeline, b.status, b.summary, b.workflow_id, b.started_at, b.finished_at,
            coalesce(r.n, 0)::int AS experiments, coalesce(r.failed, 0)::int AS failed
       FROM (SELECT * FROM batches WHERE pipeline = 'experimentBatch' AND ($2::text IS NULL OR batch_id = $2) ORDER BY started_at DESC LIMIT $1) b
       LEFT JOIN LATERAL (SELECT count(*) AS n, count(*) FILTER (WHERE status <> 'succeeded') AS failed
                            FROM experiment_results WHERE batch_id = b.batch_id) r ON true
      ORDER BY b.started_at DESC`,
    [limit, batchId ?? null],
  );
  return rows.map((r) => ({
    batchId: r.batch_id,
    pipeline: r.pipeline,
    status: r.status,
    summary: r.summary,
    workflowId: r.workflow_id,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    experiments: r.experiments,
    failed: r.failed,
  }));
}
