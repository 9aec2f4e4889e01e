import type { Command } from 'commander';
import type pg from 'pg';
import { replicateProgressRecommendation } from '../../db/simulation/replicate-silences.js';
import { InvalidInputError } from '../../client/errors.js';
import { isModuleReplicate, simulationJobSchema } from '../../shared/simulation/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import type { ProgressRecommendation } from '../../shared/step/liveness.js';
import { recommendationTable, registerRecommend, type RecommendOptions } from './recommend-command.js';

// `shepherd simulation recommend <job file>`: a progressTimeout for the job's replicate command
// from the longest silences successful replicates of the same command recorded, in any job.

export interface ReplicateRecommendation extends ProgressRecommendation {
  replicate: string;
  configured: string | number | null;
}

export async function recommendForJob(pool: pg.Pool, raw: unknown, opts: RecommendOptions): Promise<ReplicateRecommendation[]> {
  const parsed = simulationJobSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`invalid simulation job: ${describeIssues(parsed.error)}`);
  const r = parsed.data.replicate;
  if (isModuleReplicate(r)) throw new InvalidInputError('replicate: a module replicate runs in the worker and has no progressTimeout');
  const rec = await replicateProgressRecommendation(pool, { command: r.command, args: r.args }, opts);
  return [{ replicate: [r.command, ...r.args].join(' '), configured: r.progressTimeout ?? null, ...rec }];
}

export function replicateRecommendationLines(rows: ReplicateRecommendation[]): string[] {
  return recommendationTable(rows, 'replicate', (r) => r.replicate);
}

export function registerSimulationVerbs(cmd: Command): void {
  registerRecommend(cmd, {
    description: 'recommend a progressTimeout for the replicate command: max(3 x longest silence of successful replicates, 1m)',
    fileHelp: 'job definition (JSON or YAML): its replicate command and args are looked up across jobs',
    recommend: recommendForJob,
    lines: replicateRecommendationLines,
  });
}
