import type pg from 'pg';

/** A job's failed replicates, from the partial index simulation_replicates_failed_idx. */
export async function failedReplicates(
  pool: pg.Pool,
  jobId: string,
  limit = 200,
): Promise<{ parameterKey: string; replicate: number; seed: string; attempts: number; error: string | null; finishedAt: string }[]> {
  const { rows } = await pool.query(
    `SELECT parameter_key, replicate, seed, attempts, error, finished_at FROM simulation_replicates
      WHERE job_id = $1 AND status = 'failed' ORDER BY parameter_key, replicate LIMIT $2`,
    [jobId, limit],
  );
  return rows.map((r) => ({
    parameterKey: r.parameter_key,
    replicate: r.replicate,
    seed: String(r.seed),
    attempts: r.attempts,
    error: r.error,
    finishedAt: new Date(r.finished_at).toISOString(),
  }));
}
