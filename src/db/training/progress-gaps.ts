import type pg from 'pg';
import { recommendProgressTimeout, type ProgressRecommendation } from '../../shared/step/liveness.js';

// progressTimeout recommendation for a training job from the longest gaps between step advances
// its completed runs recorded (training_jobs.metrics.longestSilenceMs), across enqueues and
// queues: a job ID names the same training (trainer, dataset, params) each time it is enqueued.

export async function trainingProgressRecommendation(
  pool: pg.Pool,
  jobId: string,
  opts: { days: number; minSamples?: number },
): Promise<ProgressRecommendation> {
  const { rows } = await pool.query<{ samples: string; longest: string | null }>(
    `SELECT count(*) AS samples, max((metrics->>'longestSilenceMs')::bigint) AS longest
       FROM training_jobs
      WHERE job_id = $1 AND status = 'completed' AND metrics ? 'longestSilenceMs'
        AND finished_at > now() - make_interval(days => $2)`,
    [jobId, opts.days],
  );
  return recommendProgressTimeout(Number(rows[0]?.samples ?? 0), Number(rows[0]?.longest ?? 0), opts.minSamples);
}
