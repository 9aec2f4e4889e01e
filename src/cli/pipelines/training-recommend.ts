import type { Command } from 'commander';
import type pg from 'pg';
import { trainingProgressRecommendation } from '../../db/training/progress-gaps.js';
import { InvalidInputError } from '../../client/errors.js';
import { trainingJobSchema } from '../../shared/training/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import type { ProgressRecommendation } from '../../shared/step/liveness.js';
import { recommendationTable, registerRecommend, type RecommendOptions } from './recommend-command.js';

// `shepherd training recommend <job file>`: a progressTimeout for the job from the longest gaps
// between step advances its completed runs (any enqueue of the same job ID) recorded.

export interface TrainingRecommendation extends ProgressRecommendation {
  job: string;
  configured: string | number | null;
}

export async function recommendForTrainingJob(pool: pg.Pool, raw: unknown, opts: RecommendOptions): Promise<TrainingRecommendation[]> {
  const parsed = trainingJobSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidInputError(`invalid training job: ${describeIssues(parsed.error)}`);
  const rec = await trainingProgressRecommendation(pool, parsed.data.jobId, opts);
  return [{ job: parsed.data.jobId, configured: parsed.data.progressTimeout ?? null, ...rec }];
}

export function trainingRecommendationLines(rows: TrainingRecommendation[]): string[] {
  return recommendationTable(rows, 'job', (r) => r.job);
}

export function registerTrainingRecommend(cmd: Command): void {
  registerRecommend(cmd, {
    description: 'recommend a progressTimeout for a training job: max(3 x longest gap between step advances of completed runs, 1m)',
    fileHelp: 'job definition (JSON or YAML): its jobId is looked up across enqueues',
    recommend: recommendForTrainingJob,
    lines: trainingRecommendationLines,
  });
}
