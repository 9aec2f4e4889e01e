import { z } from 'zod';
import { describeIssues, durationSchema, idSchema, relativePathSchema, retrySchema } from '../schemas.js';
import { checkStepSpec } from '../validation/step-spec.js';
import { checkProgressTimeout, progressTimeoutSchema } from '../step/liveness.js';

// Training queue and job configuration. Pure zod and types, no Node built-ins: the trainingQueue
// workflow validates jobs with it inside its update validators, and the trainModel activity
// receives the resolved (defaults filled in) job, which is also what the job's result, memo and
// database row record: the effective configuration, never a document that can drift from it.

export { TRAINING_QUEUE_ID_PREFIX, trainingQueueWorkflowId } from './workflow-ids.js';

export const DEFAULT_TRAINER_ARGS = ['{project}/examples/training/trainer.mjs'];
export const GIB = 1024 ** 3;

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

export const trainerSchema = z
  .strictObject({
    /** Program to run (argv, never a shell string); `{project}` in args becomes the worker's project root. */
    command: z.string().min(1).default('node'),
    args: z.array(z.string()).default(DEFAULT_TRAINER_ARGS),
    env: z.record(envName, z.string()).default({}),
    /** Exit codes meaning "this configuration cannot work" (2: the example trainer's config error). */
    nonRetryableExitCodes: z.array(z.number().int().min(1).max(255)).default([2]),
    /** Time between SIGTERM (save a checkpoint and exit) and SIGKILL when the job is paused or cancelled. */
    graceMs: z.number().int().min(0).max(600_000).default(10_000),
  })
  .superRefine((t, ctx) => checkStepSpec(t, ctx));

const paramValue = z.union([z.number(), z.string(), z.boolean()]);

export const trainingJobSchema = z
  .strictObject({
    jobId: idSchema,
    trainer: trainerSchema.default(() => trainerSchema.parse({})),
    /** CSV relative to the project root; must exist when the job is enqueued. */
    dataset: relativePathSchema,
    validationFraction: z.number().gt(0, 'must be > 0: a job without validation data cannot report val loss').lt(1).default(0.2),
    /** Initial weights (relative to the project root); null: random initialisation from `seed`. */
    baseModel: relativePathSchema.nullable().default(null),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(1),
    steps: z.number().int().min(1).max(1_000_000_000),
    evalInterval: z.number().int().min(1),
    checkpointInterval: z.number().int().min(1),
    retention: z
      .strictObject({
        /** Most recent checkpoints kept; older ones are deleted after each save. */
        keepLast: z.number().int().min(1).max(1000).default(3),
        /** Also keep the checkpoint with the lowest val loss, however old. */
        keepBest: z.boolean().default(true),
      })
      .default({ keepLast: 3, keepBest: true }),
    validation: z
      .strictObject({
        /** Val loss must be reported at least every this many steps; default: evalInterval. */
        requiredEvery: z.number().int().min(1).optional(),
        /** What a gap longer than that does: fail the job, or record a warning and go on. */
        onMissing: z.enum(['fail', 'warn']).default('fail'),
      })
      .default({ onMissing: 'fail' }),
    /** Trainer-specific hyperparameters, passed through as they are. */
    params: z.record(z.string(), paramValue).default({}),
    /** Overrides the queue's disk floor for this job. */
    minFreeDiskBytes: z.number().int().min(0).optional(),
    heartbeatTimeout: durationSchema.default('30s'),
    /** Start-to-close timeout of one attempt. */
    timeout: durationSchema.default('24h'),
    /**
     * No step advance in the trainer's progress protocol for this long (whatever else it prints):
     * the attempt is stalled, the trainer stopped and the job retried from its last checkpoint.
     */
    progressTimeout: progressTimeoutSchema.optional(),
    retry: retrySchema.default({ maximumAttempts: 5, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' }),
  })
  .superRefine((job, ctx) => {
    checkProgressTimeout(job.progressTimeout, job.timeout, ctx, ['progressTimeout'], 'timeout');
    const every = job.validation.requiredEvery;
    if (every !== undefined && every < job.evalInterval) {
      ctx.addIssue({
        code: 'custom',
        path: ['validation', 'requiredEvery'],
        message: `must be >= evalInterval (${job.evalInterval}): the trainer evaluates every ${job.evalInterval} steps, so validation would always be missing`,
      });
    }
  })
  .transform((job) => ({ ...job, validation: { ...job.validation, requiredEvery: job.validation.requiredEvery ?? job.evalInterval } }));

export type TrainingJobInput = z.input<typeof trainingJobSchema>;
/** The effective configuration of a job: defaults filled in, as recorded everywhere. */
export type TrainingJob = z.output<typeof trainingJobSchema>;

export const checkpointRefSchema = z.strictObject({
  step: z.number().int().min(0),
  path: z.string().min(1),
  valLoss: z.number().nullable(),
});
export type CheckpointRef = z.infer<typeof checkpointRefSchema>;

export const pendingJobSchema = z.strictObject({
  job: trainingJobSchema,
  /** Unique per enqueue: keys the database row and the checkpoint directory's ownership. */
  instance: z.string().min(1),
  enqueuedAt: z.string(),
  /** Set when the job was interrupted (pause, disk floor): continue from here. */
  resumeFrom: checkpointRefSchema.nullable().default(null),
  interruptions: z.number().int().min(0).default(0),
});
export type PendingJob = z.output<typeof pendingJobSchema>;

export const finishedJobSchema = z.strictObject({
  jobId: z.string(),
  instance: z.string(),
  status: z.enum(['completed', 'failed', 'cancelled', 'removed']),
  finishedAt: z.string(),
  step: z.number().int().nullable().default(null),
  trainLoss: z.number().nullable().default(null),
  valLoss: z.number().nullable().default(null),
  bestCheckpoint: checkpointRefSchema.nullable().default(null),
  error: z.string().nullable().default(null),
  warnings: z.array(z.string()).default([]),
});
export type FinishedJob = z.output<typeof finishedJobSchema>;

/** What continue-as-new carries into the next run: nothing queued or paused is ever lost. */
export const carriedStateSchema = z.strictObject({
  pending: z.array(pendingJobSchema).default([]),
  paused: z.boolean().default(false),
  pauseReason: z.string().nullable().default(null),
  recent: z.array(finishedJobSchema).default([]),
  counts: z
    .strictObject({ completed: z.number().int(), failed: z.number().int(), cancelled: z.number().int(), removed: z.number().int() })
    .default({ completed: 0, failed: 0, cancelled: 0, removed: 0 }),
  /** Runs of this queue so far (1 + number of continue-as-new). */
  run: z.number().int().min(1).default(1),
});
export type CarriedState = z.output<typeof carriedStateSchema>;

export const trainingQueueInputSchema = z.strictObject({
  queue: idSchema,
  /** Below this much free space where checkpoints are written, the queue pauses itself. */
  minFreeDiskBytes: z.number().int().min(0).default(GIB),
  /** How often a running job reports progress to the queue (besides every checkpoint). */
  progressIntervalMs: z.number().int().min(200).max(600_000).default(15_000),
  /** History length at which an idle queue continues as new. */
  maxHistoryEvents: z.number().int().min(50).max(40_000).default(10_000),
  /** Webhook notification per finished job (the URL comes from the worker's environment). */
  notify: z.boolean().default(true),
  state: carriedStateSchema.optional(),
});
export type TrainingQueueInput = z.input<typeof trainingQueueInputSchema>;
export type TrainingQueueConfig = z.output<typeof trainingQueueInputSchema>;

/** Latest progress of a running job, as the activity reports it (heartbeat details and progress signal). */
export interface TrainingProgress {
  jobId: string;
  instance: string;
  attempt: number;
  step: number;
  totalSteps: number;
  trainLoss: number | null;
  valLoss: number | null;
  /** Step of the latest non-null val loss. */
  valStep: number | null;
  /** valLoss - trainLoss: how far validation trails training (overfitting shows as a growing gap). */
  gap: number | null;
  stepsPerSecond: number | null;
  etaSeconds: number | null;
  lastCheckpoint: CheckpointRef | null;
  bestCheckpoint: CheckpointRef | null;
  /** Step this attempt started from (a checkpoint's step when resumed, else 0). */
  startStep: number;
  resumedFrom: string | null;
  heartbeatAt: string;
  warnings: string[];
  /** Time since the last step advance, when the trainer is running (progress-based liveness). */
  liveness?: TrainingLiveness;
}

export interface TrainingLiveness {
  silentMs: number;
  longestSilenceMs: number;
  progressTimeoutMs: number | null;
  /** "running 4m", "running 9m, no progress for 2m" or "stalled for 5m: ...". */
  state: string;
}

export interface TrainModelInput {
  queue: string;
  job: TrainingJob;
  instance: string;
  resumeFrom: CheckpointRef | null;
  minFreeDiskBytes: number;
  progressIntervalMs: number;
}

export interface TrainModelResult extends Pick<
  TrainingProgress,
  | 'jobId'
  | 'instance'
  | 'attempt'
  | 'step'
  | 'totalSteps'
  | 'trainLoss'
  | 'valLoss'
  | 'gap'
  | 'lastCheckpoint'
  | 'bestCheckpoint'
  | 'startStep'
  | 'warnings'
> {
  /** paused: the disk floor stopped the job at a checkpoint; it continues from there on resume. */
  status: 'completed' | 'paused';
  reason: string | null;
  /** Checkpoints on disk after retention. */
  retained: CheckpointRef[];
  /** The trainer's result file (completed jobs). */
  metrics: Record<string, unknown> | null;
  durationMs: number;
  peakRssBytes: number;
  /** Longest time this attempt's trainer went without advancing its step (absent when it did not run). */
  longestSilenceMs?: number;
  checkpointDir: string;
  effectiveConfig: TrainingJob;
}

/** Parses a job; throws a plain Error naming every bad field (update validators reject with it). */
export function parseTrainingJob(input: unknown, root = 'job'): TrainingJob {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error(`${root}: must be a JSON object`);
  const parsed = trainingJobSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid ${root}: ${describeIssues(parsed.error, root)}`);
  return parsed.data;
}
