import type { Command } from 'commander';
import type pg from 'pg';
import { readDefinitionFile } from '../../config/input-file.js';
import { loadEnv } from '../../config/env.js';
import { createLogger } from '../../config/logger.js';
import { openExistingDatabase } from '../../db/open-existing.js';
import { experimentProgressRecommendations, type ExperimentSilence } from '../../db/experiments/silences.js';
import { InvalidInputError } from '../../client/errors.js';
import { experimentBatchSchema } from '../../shared/experiments/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import { formatDurationMs } from '../../shared/durations.js';
import { formatSummaryTable } from '../../shared/summary-table.js';
import { PROGRESS_RECOMMENDATION_MIN_SAMPLES } from '../../shared/step/liveness.js';
import { emit } from '../cli-context.js';

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
  const table = formatSummaryTable(
    rows.map((r) => ({
      experiment: r.experiment,
      configured: r.configured === null ? '-' : String(r.configured),
      samples: r.samples,
      longest_silence: r.samples > 0 ? formatDurationMs(r.longestSilenceMs) : '-',
      recommended: r.recommended ?? '-',
      note: r.note,
    })),
    { maxCellWidth: 80 },
  );
  return [table];
}

export function registerExperimentVerbs(cmd: Command): void {
  cmd
    .command('recommend')
    .description('recommend a progressTimeout per experiment: max(3 x longest silence of successful runs, 1m), from enough runs')
    .argument('<file>', 'batch definition (JSON or YAML): its experiment names are looked up across batches')
    .option('--days <n>', 'look-back window', '30')
    .option('--min-samples <n>', 'successful runs needed per experiment', String(PROGRESS_RECOMMENDATION_MIN_SAMPLES))
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { days: string; minSamples: string; json?: boolean }) => {
      const days = Number(o.days);
      const minSamples = Number(o.minSamples);
      if (!(days > 0)) throw new InvalidInputError(`invalid --days ${o.days}: must be a positive number`);
      if (!Number.isInteger(minSamples) || minSamples < 1)
        throw new InvalidInputError(`invalid --min-samples ${o.minSamples}: must be a positive integer`);
      const env = loadEnv();
      const db = await openExistingDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir, logger: createLogger('warn') });
      try {
        const rows = await recommendForBatch(db.pool, readDefinitionFile(file), { days, minSamples });
        emit(Boolean(o.json), rows, recommendationLines(rows));
      } finally {
        await db.close();
      }
    });
}
