import type pg from 'pg';
import { recommendProgressTimeout, type ProgressRecommendation } from '../../shared/step/liveness.js';

// progressTimeout recommendation for a replicate program from the longest silences its
// successful replicates recorded (simulation_replicates.longest_silence_ms), across jobs: a sweep
// usually gets a new job ID, so the program is what is matched (command and args of the job's
// `replicate`, placeholders unexpanded), in a window.

export async function replicateProgressRecommendation(
  pool: pg.Pool,
  replicate: { command: string; args: string[] },
  opts: { days: number; minSamples?: number },
): Promise<ProgressRecommendation> {
  const { rows } = await pool.query<{ samples: string; longest: number | null }>(
    `SELECT count(*) AS samples, max(r.longest_silence_ms) AS longest
       FROM simulation_replicates r JOIN simulation_jobs j USING (job_id)
      WHERE j.input->'replicate'->>'command' = $1 AND coalesce(j.input->'replicate'->'args', '[]'::jsonb) = $2::jsonb
        AND r.status = 'succeeded' AND r.longest_silence_ms IS NOT NULL
        AND r.finished_at > now() - make_interval(days => $3)`,
    [replicate.command, JSON.stringify(replicate.args), opts.days],
  );
  return recommendProgressTimeout(Number(rows[0]?.samples ?? 0), rows[0]?.longest ?? 0, opts.minSamples);
}
