import type { Command } from 'commander';
import type pg from 'pg';
import { experimentProgressRecommendations, type ExperimentSilence } from '../../db/experiments/silences.js';
import { InvalidInputError } from '../../client/errors.js';
import { experimentBatchSchema } from '../../shared/experiments/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import { recommendationTable, registerRecommend } from './recommend-command.js';

// `shepherd experiments recommend <batch file>`: a progressTimeout per experiment from the
// longest silences its successful runs recorded, beside what the file declares now.

export interface RecommendationRow extends ExperimentSilence {
  configured: string | number | null;
}

/** Recommendations for every experiment of a batch definition. */
export async function recommendForBatch(
  pool: pg.Pool,
  raw: unknown,
  opts: { days: number; minSamples?: number },
): Promise<RecommendationRow[]> {
  const parsed = experimentBatchSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`invalid experiment batch: ${describeIssues(parsed.error)}`);
  const configured = new Map(parsed.data.experiments.map((e) => [e.name, e.progressTimeout ?? null]));
  const recs = await experimentProgressRecommendations(pool, [...configured.keys()], opts);
  return recs.map((r) => ({ ...r, configured: configured.get(r.experiment) ?? null }));
}

export function recommendationLines(rows: RecommendationRow[]): string[] {
  return recommendationTable(rows, 'experiment', (r) => r.experiment);
}

export function registerExperimentVerbs(cmd: Command): void {
  registerRecommend(cmd, {
    description: 'recommend a progressTimeout per experiment: max(3 x longest silence of successful runs, 1m), from enough runs',
    fileHelp: 'batch definition (JSON or YAML): its experiment names are looked up across batches',
    recommend: recommendForBatch,
    lines: recommendationLines,
  });
}
