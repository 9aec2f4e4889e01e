import type pg from 'pg';
import { recommendProgressTimeout, type ProgressRecommendation } from '../../shared/step/liveness.js';

// progressTimeout recommendations from the longest silences successful runs recorded
// (experiment_results.longest_silence_ms): per experiment name, across batches, in a window.

export interface ExperimentSilence extends ProgressRecommendation {
  experiment: string;
}

/** One recommendation per name (names without any measured run get samples 0). */
export async function experimentProgressRecommendations(
  pool: pg.Pool,
  names: string[],
  opts: { days: number; minSamples?: number },
): Promise<ExperimentSilence[]> {
  const { rows } = await pool.query<{ experiment: string; samples: string; longest: number | null }>(
    `SELECT experiment, count(*) AS samples, max(longest_silence_ms) AS longest
       FROM experiment_results
      WHERE experiment = ANY($1) AND status = 'succeeded' AND longest_silence_ms IS NOT NULL
        AND finished_at > now() - make_interval(days => $2)
      GROUP BY experiment`,
    [names, opts.days],
  );
  const byName = new Map(rows.map((r) => [r.experiment, r]));
  return names.map((experiment) => {
    const r = byName.get(experiment);
    return { experiment, ...recommendProgressTimeout(Number(r?.samples ?? 0), r?.longest ?? 0, opts.minSamples) };
  });
}
