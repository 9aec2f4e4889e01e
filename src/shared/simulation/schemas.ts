import { z } from 'zod';
import { durationSchema, idSchema, relativePathSchema, retrySchema } from '../schemas.js';
import { checkProgressTimeout, progressTimeoutSchema } from '../step/liveness.js';

// Pure zod schemas for simulationJob / parameterSweep; no Node built-ins, because workflows import them.

const envNameSchema = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'env names must be UPPER_SNAKE_CASE');
const paramNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'parameter names must be identifiers (letters, digits, "_")');
const fieldPathSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/, 'must be a result field name, dotted for nested objects (e.g. "peak.day")');

/** A program as argv; never a shell string. */
export const argvCommandSchema = z
  .object({
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
  })
  .strict();

/**
 * A replicate as a subprocess. `{seed}`, `{replicate}`, `{params}` (JSON), `{param.NAME}`,
 * `{envDir}` and `{project}` in args are substituted; the same values arrive as SHEPHERD_* env.
 */
export const replicateCommandSchema = z
  .object({
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(envNameSchema, z.string()).default({}),
    /** Exit codes meaning "this configuration cannot work": no retry. 2 is the usage-error convention. */
    nonRetryableExitCodes: z.array(z.number().int().min(1).max(255)).default([2]),
    /** No output line and no workspace file growth for this long: the replicate is stalled, killed and retried (StepStalled). */
    progressTimeout: progressTimeoutSchema.optional(),
  })
  .strict();

/**
 * A replicate as a function exported by an ES module, run inside the worker: no process start,
 * so cheap, but trusted code only and it cannot be interrupted mid-replicate. Path relative to the
 * environment bundle when there is one, otherwise to the project.
 */
export const replicateModuleSchema = z
  .object({
    module: relativePathSchema,
    export: z
      .string()
      .regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/, 'must be an exported function name')
      .default('simulate'),
  })
  .strict();

export const replicateSchema = z.union([replicateCommandSchema, replicateModuleSchema]);

export const parameterSetSchema = z
  .object({
    /** Stable name of this parameter set; derived from the values when omitted. */
    key: idSchema.optional(),
    values: z.record(paramNameSchema, z.union([z.number(), z.string(), z.boolean()])),
  })
  .strict();

export const statNames = ['count', 'mean', 'std', 'min', 'max'] as const;

export const aggregateSpecSchema = z
  .object({
    fields: z.array(fieldPathSchema).min(1, 'name at least one result field to summarise').max(50),
    stats: z.array(z.enum(statNames)).min(1).default(['count', 'mean', 'std', 'min', 'max']),
    percentiles: z.array(z.number().min(0).max(100)).max(20).default([5, 50, 95]),
  })
  .strict();

export const failurePolicySchema = z
  .object({
    /** A parameter fails when more than this share of its replicates fail for good; otherwise it is aggregated over the successes. */
    maxFailedPercent: z.number().min(0).max(100).default(0),
  })
  .strict();

export const seedPolicySchema = z
  .object({
    base: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(1),
    /**
     * `hashed`: independent streams per parameter set and replicate. `sequential`: replicate i gets
     * base + i in every parameter set (common random numbers, for paired comparisons).
     */
    policy: z.enum(['hashed', 'sequential']).default('hashed'),
  })
  .strict();

export const environmentSpecSchema = z
  .object({
    /** Directory the replicates need (model code, package.json, lockfile), relative to the project. */
    bundle: relativePathSchema,
    /** Run once per cache key, inside the prepared copy of the bundle (e.g. npm ci). */
    setup: argvCommandSchema.optional(),
    /** Must exit 0 in the prepared environment before every reuse; a failure means rebuild. */
    probe: argvCommandSchema,
    /** Dependency lockfile inside the bundle; found automatically when omitted. */
    lockfile: relativePathSchema.optional(),
    /** Prints the runtime's version, which is part of the cache key. */
    runtime: argvCommandSchema.default({ command: 'node', args: ['--version'] }),
    setupTimeout: durationSchema.default('10m'),
    probeTimeout: durationSchema.default('1m'),
  })
  .strict();

function sanitizeKeyPart(v: string): string {
  return v.replace(/[^A-Za-z0-9._-]+/g, '-');
}

/** FNV-1a over UTF-16 code units: a small deterministic hash usable inside workflows. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** `beta-0.3_gamma-0.1` for { beta: 0.3, gamma: 0.1 }; hashed when it would be too long for an ID. */
export function deriveParameterKey(values: Record<string, number | string | boolean>): string {
  const entries = Object.keys(values)
    .sort()
    .map((k) => `${k}-${sanitizeKeyPart(String(values[k]))}`);
  const plain = entries.join('_') || 'default';
  if (plain.length <= 60 && /^[A-Za-z0-9]/.test(plain)) return plain;
  const canonical = JSON.stringify(
    Object.keys(values)
      .sort()
      .map((k) => [k, values[k]]),
  );
  return `p-${fnv1a(canonical).toString(16).padStart(8, '0')}${fnv1a(canonical, 0x1234567).toString(16).padStart(8, '0')}`;
}

export const simulationJobSchema = z
  .object({
    jobId: idSchema,
    description: z.string().max(500).optional(),
    replicate: replicateSchema,
    parameters: z.array(parameterSetSchema).min(1, 'needs at least one parameter set').max(500),
    /** Replicates per parameter set. */
    replicates: z.number().int().min(1).max(100_000),
    seed: seedPolicySchema.default({ base: 1, policy: 'hashed' }),
    /** Replicates running at once across the whole job. */
    maxConcurrentReplicates: z.number().int().min(1).max(10_000).default(8),
    /** Parameter sweeps running at once; default: all, up to 100, and never more than maxConcurrentReplicates. */
    maxConcurrentSweeps: z.number().int().min(1).max(500).optional(),
    /** Replicates per activity task (batching keeps histories short); chosen from the size when omitted. */
    replicatesPerTask: z.number().int().min(1).max(1000).optional(),
    /** Per-replicate retries, inside its activity; a replicate that exhausts them has failed for good. */
    replicateRetry: retrySchema.default({ maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' }),
    replicateTimeout: durationSchema.default('10m'),
    heartbeatTimeout: durationSchema.default('30s'),
    aggregate: aggregateSpecSchema,
    failurePolicy: failurePolicySchema.default({ maxFailedPercent: 0 }),
    /** Overall deadline: when it passes every sweep is cancelled and the job fails with its partial progress. */
    timeout: durationSchema.optional(),
    environment: environmentSpecSchema.optional(),
    /** A sweep continues as new when its history reaches this many events (or the server suggests it). */
    continueAsNewAfterEvents: z.number().int().min(50).max(40_000).default(10_000),
  })
  .strict()
  .superRefine((job, ctx) => {
    const seen = new Map<string, number>();
    job.parameters.forEach((p, i) => {
      const key = p.key ?? deriveParameterKey(p.values);
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['parameters', i, p.key ? 'key' : 'values'],
          message: `parameter key "${key}" is also used by parameters[${first}]; give each set a distinct "key"`,
        });
      } else seen.set(key, i);
    });
    if (!isModuleReplicate(job.replicate)) {
      checkProgressTimeout(job.replicate.progressTimeout, job.replicateTimeout, ctx, ['replicate', 'progressTimeout'], 'replicateTimeout');
    }
  });

export type SimulationJobInput = z.input<typeof simulationJobSchema>;
export type SimulationJob = z.infer<typeof simulationJobSchema>;
export type ReplicateSpec = z.infer<typeof replicateSchema>;
export type ReplicateCommandSpec = z.infer<typeof replicateCommandSchema>;
export type ReplicateModuleSpec = z.infer<typeof replicateModuleSchema>;
export type AggregateSpec = z.infer<typeof aggregateSpecSchema>;
export type EnvironmentSpec = z.infer<typeof environmentSpecSchema>;
export type SeedPolicy = z.infer<typeof seedPolicySchema>;
export type ParameterValues = Record<string, number | string | boolean>;

export function isModuleReplicate(spec: ReplicateSpec): spec is ReplicateModuleSpec {
  return 'module' in spec;
}

/** What a prepared environment looks like to a replicate and in the job's result. */
export interface EnvironmentReport {
  key: string;
  parts: { bundle: string; runtime: string; lockfile: string | null };
  dir: string;
  /** `reused`: an existing entry passed validation; `built`: none existed; `rebuilt`: the existing one failed validation. */
  action: 'reused' | 'built' | 'rebuilt';
  rebuildReason?: string;
  probe: { ok: boolean; exitCode: number | null; durationMs: number; stderrTail: string };
}

/** The carried state of one parameter sweep across continue-as-new. */
export interface SweepState {
  nextBatch: number;
  succeeded: number;
  failed: number;
  /** A few failure messages, for the result and the Web UI; never all of them. */
  failureSamples: { replicate: number; error: string }[];
  /** Number of runs so far in this sweep's continue-as-new chain. */
  runs: number;
  startedAt: number;
  /** Progress signals already sent to the job (they count against the budget across runs). */
  signalsSent?: number;
}

export const parameterSweepSchema = z
  .object({
    jobId: idSchema,
    parameterKey: idSchema,
    parameterIndex: z.number().int().min(0),
    values: parameterSetSchema.shape.values,
    replicate: replicateSchema,
    replicates: z.number().int().min(1).max(100_000),
    seed: seedPolicySchema,
    /** Replicates this sweep may run at once. */
    concurrency: z.number().int().min(1).max(10_000),
    replicatesPerTask: z.number().int().min(1).max(1000),
    replicateRetry: retrySchema,
    replicateTimeout: durationSchema,
    heartbeatTimeout: durationSchema,
    aggregate: aggregateSpecSchema,
    failurePolicy: failurePolicySchema,
    continueAsNewAfterEvents: z.number().int().min(50).max(40_000).default(10_000),
    environment: z
      .custom<EnvironmentReport>((v) => typeof v === 'object' && v !== null && typeof (v as EnvironmentReport).key === 'string')
      .optional(),
    environmentSpec: environmentSpecSchema.optional(),
    /** Workflow ID of the job to send progress to; absent when the sweep was started on its own. */
    reportTo: z.string().min(1).optional(),
    /** Progress signals this sweep may send, so the job's history stays bounded whatever the size. */
    progressSignalBudget: z.number().int().min(0).max(100).default(20),
    state: z.custom<SweepState>((v) => typeof v === 'object' && v !== null).optional(),
  })
  .strict();

export type ParameterSweepInput = z.input<typeof parameterSweepSchema>;
export type ParameterSweep = z.infer<typeof parameterSweepSchema>;

export type SweepStatus = 'pending' | 'running' | 'aggregating' | 'completed' | 'failed' | 'cancelled';

export interface SweepProgress {
  key: string;
  status: SweepStatus;
  total: number;
  succeeded: number;
  failed: number;
  running: number;
  aggregated: boolean;
  runs: number;
}

export interface FieldStats {
  count: number;
  missing: number;
  mean?: number | null;
  std?: number | null;
  min?: number | null;
  max?: number | null;
  percentiles?: Record<string, number | null>;
}

export interface ParameterOutcome extends SweepProgress {
  values: ParameterValues;
  aggregates?: Record<string, FieldStats>;
  error?: string;
  failureSamples?: { replicate: number; error: string }[];
}

export interface ParameterSweepResult {
  key: string;
  values: ParameterValues;
  total: number;
  succeeded: number;
  failed: number;
  aggregates: Record<string, FieldStats>;
  failureSamples: { replicate: number; error: string }[];
  runs: number;
}

export interface SimulationJobResult {
  jobId: string;
  status: 'completed' | 'completed_with_failures' | 'failed';
  totals: { parameters: number; replicates: number; succeeded: number; failed: number; parametersFailed: number };
  environment?: EnvironmentReport;
  parameters: ParameterOutcome[];
  durationMs: number;
  /** Set when the aggregates were too large to return through Temporal: read them from PostgreSQL. */
  aggregatesOmitted?: string;
}
