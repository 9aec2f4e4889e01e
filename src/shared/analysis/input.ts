import { z } from 'zod';
import { durationSchema, relativePathSchema, retrySchema } from '../schemas.js';
import { containerLimitsSchema } from '../containers.js';
import { ANALYZER_NAMES } from './analyzers.js';
import { checkProgressTimeout, progressTimeoutSchema } from '../step/liveness.js';

// Input of analysisPipeline (seed 003). Pure zod: workflows parse it before anything starts.

/**
 * Pipeline ids and app names may not contain "-": the child workflow ID is
 * analysis-<pipeline>-<model>-<app>, and with a hyphen in either end two different targets (or
 * pipelines) could produce the same ID. Model names keep their hyphens (claude-3-5-haiku).
 */
const segment = (what: string) =>
  z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._]{0,63}$/,
      `${what} must be 1-64 letters, digits, "." or "_" (no "-": it separates the parts of the workflow ID)`,
    );

export const pipelineIdSchema = segment('a pipeline id');
export const modelNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit');
/** An app is given by number (1, 2) or by name; numbers are kept as their decimal string. */
export const appIdSchema = z.union([z.number().int().min(0).max(1_000_000).transform(String), segment('an app name')]);

export const analyzerConfigSchema = z
  .object({
    name: z.enum(ANALYZER_NAMES),
    timeout: durationSchema.default('10m'),
    heartbeatTimeout: durationSchema.default('30s'),
    retry: retrySchema.default({ maximumAttempts: 2, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' }),
    /** Passed to the analyzer as RunAnalyzerInput.config (rules, durations, model, ...). */
    config: z.record(z.string(), z.unknown()).optional(),
    /**
     * Tool analyzers (static, dynamic, performance): no output line and no growth of the tool's
     * files for this long means stalled: the tool is stopped and the attempt fails StepStalled.
     * ai-review has none: its heartbeats come from the model's stream, so a stalled stream
     * already misses its heartbeatTimeout.
     */
    progressTimeout: progressTimeoutSchema.optional(),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.progressTimeout === undefined) return;
    if (a.name === 'ai-review') {
      ctx.addIssue({
        code: 'custom',
        path: ['progressTimeout'],
        message: "ai-review has no progressTimeout: its heartbeats follow the model's stream, so set heartbeatTimeout instead",
      });
      return;
    }
    checkProgressTimeout(a.progressTimeout, a.timeout, ctx, ['progressTimeout'], 'timeout');
  });

/** How to get the app's image: an existing local image, or a build context in the project. */
const runSpecFields = {
  image: z.string().min(1).optional(),
  buildContext: relativePathSchema.optional(),
  base: z.enum(['node']).optional(),
  cmd: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  port: z.number().int().min(1).max(65535),
  healthPath: z.string().startsWith('/', 'must start with "/"').default('/'),
  healthTimeout: durationSchema.default('60s'),
  limits: containerLimitsSchema.optional(),
};

export const analysisTargetSchema = z
  .object({
    model: modelNameSchema,
    app: appIdSchema,
    /** The app's source, relative to the project: what static and ai-review read. */
    sourceDir: relativePathSchema,
    ...runSpecFields,
    /** Override the pipeline's analyzer list for this target. */
    analyzers: z.array(z.enum(ANALYZER_NAMES)).min(1).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.image && t.buildContext)
      ctx.addIssue({ code: 'custom', path: ['image'], message: 'give either image or buildContext, not both' });
  });

export const breakerSchema = z
  .object({
    /** Consecutive failures of one analyzer (across targets) that open its breaker. */
    analyzerFailureThreshold: z.number().int().min(1).max(1000).default(3),
    /** Open breaker cool-down: this many targets finish, or this much workflow time passes, whichever first. */
    analyzerCooldownTargets: z.number().int().min(1).max(10000).default(2),
    analyzerCooldown: durationSchema.default('5m'),
    /** Consecutive failed targets that stop the pipeline from starting new ones. */
    pipelineFailureThreshold: z.number().int().min(1).max(1000).default(3),
    /** After the pipeline breaker opened and running targets ended: how long to wait for a resetBreaker before finishing. */
    pipelineResetWait: z.union([durationSchema, z.literal(0)]).default(0),
  })
  .strict();

export const analysisTimeoutsSchema = z
  .object({
    preflight: durationSchema.default('2m'),
    ensureImage: durationSchema.default('10m'),
    /** Upper bound on how long one target's app container may be held. */
    hold: durationSchema.default('1h'),
    /** Ready-signal wait beyond the health timeout (image start, scheduling). */
    readyGrace: durationSchema.default('2m'),
  })
  .strict();

export const analysisPipelineSchema = z
  .object({
    pipelineId: pipelineIdSchema,
    description: z.string().max(500).optional(),
    targets: z.array(analysisTargetSchema).min(1, 'needs at least one target').max(500),
    analyzers: z.array(analyzerConfigSchema).min(1, 'needs at least one analyzer').max(4),
    concurrency: z.number().int().min(1).max(50).default(2),
    breakers: breakerSchema.prefault({}),
    timeouts: analysisTimeoutsSchema.prefault({}),
    notify: z.boolean().default(true),
  })
  .strict()
  .superRefine((p, ctx) => {
    const names = new Set<string>();
    p.analyzers.forEach((a, i) => {
      if (names.has(a.name)) ctx.addIssue({ code: 'custom', path: ['analyzers', i, 'name'], message: `analyzer "${a.name}" listed twice` });
      names.add(a.name);
    });
    p.targets.forEach((t, i) => {
      for (const [j, a] of (t.analyzers ?? []).entries()) {
        if (!names.has(a))
          ctx.addIssue({ code: 'custom', path: ['targets', i, 'analyzers', j], message: `analyzer "${a}" is not configured in analyzers` });
      }
      const needsApp = (t.analyzers ?? [...names]).some((a) => a === 'dynamic' || a === 'performance');
      if (needsApp && !t.image && !t.buildContext) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', i, 'buildContext'],
          message: 'dynamic/performance analyzers need the app running: give image or buildContext',
        });
      }
    });
  });

export type AnalysisPipelineInput = z.input<typeof analysisPipelineSchema>;
export type AnalysisPipeline = z.infer<typeof analysisPipelineSchema>;
export type AnalysisTarget = z.infer<typeof analysisTargetSchema>;
export type AnalyzerConfig = z.infer<typeof analyzerConfigSchema>;
export type BreakerConfig = z.infer<typeof breakerSchema>;

/** What analysisPipeline passes to each appAnalysis child. */
export const appAnalysisInputSchema = z
  .object({
    pipelineId: pipelineIdSchema,
    target: analysisTargetSchema,
    /** Only the analyzers to run (the pipeline already removed those whose breaker is open). */
    analyzers: z.array(analyzerConfigSchema),
    /** Analyzers the pipeline skipped, with the reason, so the child reports every one. */
    skipped: z.array(z.object({ name: z.enum(ANALYZER_NAMES), reason: z.string() }).strict()).default([]),
    timeouts: analysisTimeoutsSchema.prefault({}),
  })
  .strict();

export type AppAnalysisInput = z.input<typeof appAnalysisInputSchema>;
export type AppAnalysis = z.infer<typeof appAnalysisInputSchema>;
