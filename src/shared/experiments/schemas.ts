import { z } from 'zod';
import { durationSchema, idSchema, relativePathSchema, retrySchema } from '../schemas.js';
import { checkStepSpec } from '../validation/step-spec.js';
import { checkProgressTimeout, progressTimeoutSchema } from '../step/liveness.js';

export const experimentSchema = z
  .object({
    name: idSchema,
    /** Program to run; argv only, never a shell string. `{project}` and `{dataset}` in args are substituted. */
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    /** Dataset relative to the project root; copied into the run's fresh workspace. */
    dataset: relativePathSchema.optional(),
    params: z.record(z.string(), z.unknown()).default({}),
    env: z.record(z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'env names must be UPPER_SNAKE_CASE'), z.string()).default({}),
    timeout: durationSchema.optional(),
    /** No output line and no workspace file growth for this long: the run is stalled, killed and retried (StepStalled). */
    progressTimeout: progressTimeoutSchema.optional(),
    /** Exit codes that mean "bad configuration": failing again will not help. 2 is the usage-error convention. */
    nonRetryableExitCodes: z.array(z.number().int().min(1).max(255)).default([2]),
    /** Files in the workspace to keep and report (e.g. predictions.csv). */
    outputs: z.array(relativePathSchema).default([]),
  })
  .strict()
  .superRefine((e, ctx) => {
    checkStepSpec(e, ctx);
    checkProgressTimeout(e.progressTimeout, e.timeout, ctx, ['progressTimeout'], 'timeout');
    const ratio = e.params.trainRatio ?? e.params.train_ratio;
    if (ratio !== undefined && !(typeof ratio === 'number' && ratio > 0 && ratio < 1)) {
      // The seed's "train set will be empty" must surface here, before any step runs.
      ctx.addIssue({
        code: 'custom',
        path: ['params', 'trainRatio'],
        message: 'must be a number strictly between 0 and 1 (train and test sets must both be non-empty)',
      });
    }
    if (e.args.some((a) => a.includes('{dataset}')) && !e.dataset) {
      ctx.addIssue({ code: 'custom', path: ['dataset'], message: 'args reference {dataset} but no dataset is given' });
    }
  });

export const experimentBatchSchema = z
  .object({
    batchId: idSchema,
    description: z.string().max(500).optional(),
    experiments: z.array(experimentSchema).min(1, 'needs at least one experiment').max(1000),
    maxConcurrency: z.number().int().min(1).max(100).default(2),
    retry: retrySchema.default({ maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' }),
    experimentTimeout: durationSchema.default('30m'),
    heartbeatTimeout: durationSchema.default('30s'),
    notify: z.boolean().default(true),
  })
  .strict()
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.experiments.forEach((e, i) => {
      if (seen.has(e.name))
        ctx.addIssue({ code: 'custom', path: ['experiments', i, 'name'], message: `duplicate experiment name "${e.name}"` });
      seen.add(e.name);
      if (e.timeout === undefined)
        checkProgressTimeout(e.progressTimeout, b.experimentTimeout, ctx, ['experiments', i, 'progressTimeout'], 'experimentTimeout');
    });
  });

export type ExperimentConfig = z.infer<typeof experimentSchema>;
export type ExperimentBatchInput = z.input<typeof experimentBatchSchema>;
export type ExperimentBatch = z.infer<typeof experimentBatchSchema>;

export type ExperimentStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface ExperimentOutcome {
  name: string;
  status: ExperimentStatus;
  metrics?: Record<string, unknown>;
  error?: string;
  attempts?: number;
  durationMs?: number;
  peakRssBytes?: number;
  /** Workflow time (ms since epoch) the child started / finished; for elapsed time in progress views. */
  startedAt?: number;
  finishedAt?: number;
}

export interface ExperimentBatchResult {
  batchId: string;
  status: 'completed' | 'completed_with_failures' | 'failed' | 'cancelled';
  succeeded: number;
  failed: number;
  experiments: ExperimentOutcome[];
  notified: boolean;
}

/** What experimentBatch passes to each experimentRun child (also startable on its own). */
export const experimentRunInputSchema = z
  .object({
    batchId: idSchema,
    experiment: experimentSchema,
    retry: retrySchema.default({ maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' }),
    timeout: durationSchema.default('30m'),
    heartbeatTimeout: durationSchema.default('30s'),
  })
  .strict();

export type ExperimentRunInput = z.input<typeof experimentRunInputSchema>;
