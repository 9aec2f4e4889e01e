import type pg from 'pg';

export interface TrainingJobRow {
  instance: string;
  queue: string;
  jobId: string;
  status: string;
  steps: number | null;
  metrics: Record<string, unknown> | null;
  error: string | null;
  reason: string | null;
  lastCheckpoint: unknown;
  bestCheckpoint: unknown;
  attempt: number | null;
  workflowId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  createdAt: string;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

/** Training jobs, newest first; one queue or all, or one enqueue. */
export async function listTrainingJobs(
  pool: pg.Pool,
  opts: { queue?: string; instance?: string; limit?: number } = {},
): Promise<TrainingJobRow[]> {
  const { rows } = await pool.query(
    `SELECT instance, queue, job_id, status, (config ->> 'steps')::int AS steps, metrics, error, reason,
            last_checkpoint, best_checkpoint, attempt, workflow_id, started_at, finished_at, created_at
       FROM training_jobs
      WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR instance = $2)
      ORDER BY created_at DESC LIMIT $3`,
    [opts.queue ?? null, opts.instance ?? null, opts.limit ?? 100],
  );
  return rows.map((r) => ({
    instance: r.instance,
    queue: r.queue,
    jobId: r.job_id,
    status: r.status,
    steps: r.steps,
    metrics: r.metrics,
    error: r.error,
    reason: r.reason,
    lastCheckpoint: r.last_checkpoint,
    bestCheckpoint: r.best_checkpoint,
    attempt: r.attempt,
    workflowId: r.workflow_id,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    createdAt: new Date(r.created_at).toISOString(),
  }));
}
