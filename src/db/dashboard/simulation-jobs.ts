import type pg from 'pg';

export interface SimulationJobRow {
  jobId: string;
  status: string;
  workflowId: string | null;
  description: string | null;
  startedAt: string;
  finishedAt: string | null;
  total: number;
  succeeded: number;
  failed: number;
  /** Replicates finished in the last minute, per second. */
  ratePerSecond: number;
  etaSeconds: number | null;
}

/**
 * Simulation jobs, newest first, with progress from their replicate rows: done/total, the rate
 * over the last minute and the ETA it implies. Counting rows per job is an index-only scan of
 * the primary key; the rate uses simulation_replicates_job_finished_idx.
 */
export async function listSimulationJobs(pool: pg.Pool, opts: { jobId?: string; limit?: number } = {}): Promise<SimulationJobRow[]> {
  const { rows } = await pool.query(
    `SELECT j.job_id, j.status, j.workflow_id, j.input ->> 'description' AS description, j.started_at, j.finished_at,
            jsonb_array_length(j.input -> 'parameters') * (j.input ->> 'replicates')::int AS total,
            c.succeeded, c.failed, c.recent
       FROM (SELECT * FROM simulation_jobs WHERE $1::text IS NULL OR job_id = $1 ORDER BY started_at DESC LIMIT $2) j
       CROSS JOIN LATERAL (
         SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS succeeded,
                count(*) FILTER (WHERE status = 'failed')::int AS failed,
                count(*) FILTER (WHERE finished_at >= now() - interval '60 seconds')::int AS recent
           FROM simulation_replicates WHERE job_id = j.job_id) c
      ORDER BY j.started_at DESC`,
    [opts.jobId ?? null, opts.limit ?? 50],
  );
  return rows.map((r) => {
    const rate = r.status === 'running' ? r.recent / 60 : 0;
    const remaining = Math.max(0, r.total - r.succeeded - r.failed);
    return {
      jobId: r.job_id,
      status: r.status,
      workflowId: r.workflow_id,
      description: r.description,
      startedAt: new Date(r.started_at).toISOString(),
      finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
      total: r.total,
      succeeded: r.succeeded,
      failed: r.failed,
      ratePerSecond: rate,
      etaSeconds: rate > 0 ? remaining / rate : null,
    };
  });
}
