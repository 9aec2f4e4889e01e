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
 * Simulation jobs, newest first, with progress: done / failed from the trigger-kept counters
 * (052: never a count over the replicates), the rate from the replicates finished in the last
 * minute (simulation_replicates_job_finished_idx), and the ETA it implies.
 */
export async function listSimulationJobs(pool: pg.Pool, opts: { jobId?: string; limit?: number } = {}): Promise<SimulationJobRow[]> {
  const { rows } = await pool.query(
    `SELECT j.job_id, j.status, j.workflow_id, j.input ->> 'description' AS description, j.started_at, j.finished_at,
            jsonb_array_length(j.input -> 'parameters') * (j.input ->> 'replicates')::int AS total,
            coalesce(c.succeeded, 0)::int AS succeeded, coalesce(c.failed, 0)::int AS failed,
            CASE WHEN j.status = 'running' THEN
              (SELECT count(*)::int FROM simulation_replicates r WHERE r.job_id = j.job_id AND r.finished_at >= now() - interval '60 seconds')
            ELSE 0 END AS recent
       FROM (SELECT * FROM simulation_jobs WHERE $1::text IS NULL OR job_id = $1 ORDER BY started_at DESC LIMIT $2) j
       LEFT JOIN LATERAL (SELECT sum(succeeded) AS succeeded, sum(failed) AS failed FROM simulation_progress p WHERE p.job_id = j.job_id) c ON true
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
