import type pg from 'pg';

/** Training jobs paused by the disk floor (or any other reason) and not finished since. */
export async function pausedTrainingJobs(
  pool: pg.Pool,
): Promise<{ queue: string; jobId: string; instance: string; reason: string | null; updatedAt: string; workflowId: string | null }[]> {
  const { rows } = await pool.query(
    `SELECT queue, job_id, instance, reason, updated_at, workflow_id FROM training_jobs
      WHERE status = 'paused' ORDER BY updated_at DESC LIMIT 100`,
  );
  return rows.map((r) => ({
    queue: r.queue,
    jobId: r.job_id,
    instance: r.instance,
    reason: r.reason,
    updatedAt: new Date(r.updated_at).toISOString(),
    workflowId: r.workflow_id,
  }));
}
