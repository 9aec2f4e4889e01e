import type { Command } from 'commander';
import type pg from 'pg';
import { readDefinitionFile } from '../../config/input-file.js';
import { loadEnv } from '../../config/env.js';
import { createLogger } from '../../config/logger.js';
import { openExistingDatabase } from '../../db/open-existing.js';
import { InvalidInputError } from '../../client/errors.js';
import { PROGRESS_RECOMMENDATION_MIN_SAMPLES, type ProgressRecommendation } from '../../shared/step/liveness.js';
import { formatDurationMs } from '../../shared/durations.js';
import { formatSummaryTable } from '../../shared/summary-table.js';
import { emit } from '../cli-context.js';

// `shepherd <pipeline> recommend <file>`: the option parsing, database and output every
// pipeline's progressTimeout recommendation shares; the pipeline supplies the lookup and table.

export interface RecommendOptions {
  days: number;
  minSamples: number;
}

export interface Recommender<Row> {
  description: string;
  fileHelp: string;
  recommend(pool: pg.Pool, raw: unknown, opts: RecommendOptions): Promise<Row[]>;
  lines(rows: Row[]): string[];
}

function parseOptions(o: { days: string; minSamples: string }): RecommendOptions {
  const days = Number(o.days);
  const minSamples = Number(o.minSamples);
  if (!(days > 0)) throw new InvalidInputError(`invalid --days ${o.days}: must be a positive number`);
  if (!Number.isInteger(minSamples) || minSamples < 1)
    throw new InvalidInputError(`invalid --min-samples ${o.minSamples}: must be a positive integer`);
  return { days, minSamples };
}

export function registerRecommend<Row>(cmd: Command, r: Recommender<Row>): void {
  cmd
    .command('recommend')
    .description(r.description)
    .argument('<file>', r.fileHelp)
    .option('--days <n>', 'look-back window', '30')
    .option('--min-samples <n>', 'successful runs needed', String(PROGRESS_RECOMMENDATION_MIN_SAMPLES))
    .option('--json', 'machine-readable output')
    .action(async (file: string, o: { days: string; minSamples: string; json?: boolean }) => {
      const opts = parseOptions(o);
      const env = loadEnv();
      const db = await openExistingDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir, logger: createLogger('warn') });
      try {
        const rows = await r.recommend(db.pool, readDefinitionFile(file), opts);
        emit(Boolean(o.json), rows, r.lines(rows));
      } finally {
        await db.close();
      }
    });
}

/** The table both print: one row per step (its key in `column`), configured beside recommended. */
export function recommendationTable<R extends ProgressRecommendation & { configured: string | number | null }>(
  rows: R[],
  column: string,
  key: (r: R) => string,
): string[] {
  const table = formatSummaryTable(
    rows.map((r) => ({
      [column]: key(r),
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
