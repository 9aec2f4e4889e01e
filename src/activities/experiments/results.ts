import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import { z } from 'zod';
import { loadResults, toCsv, toJson, type ExportFormat } from '../../db/experiments/export.js';
import { isDataError } from '../../db/errors.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { describeIssues } from '../../shared/schemas.js';
import type { ActivityDeps } from '../deps.js';

// Re-exported so the CLI and activities share one export implementation.
export { exportResults, type ExportFormat } from '../../db/experiments/export.js';

// Results are written once per logical write key (batch, experiment) and exported on demand.

const isoDate = z.union([z.iso.datetime({ offset: true }), z.date()]).transform((v) => new Date(v));

export const experimentResultSchema = z.object({
  batchId: z.string().min(1).max(200),
  experiment: z.string().min(1).max(200),
  status: z.enum(['succeeded', 'failed', 'cancelled']),
  metrics: z.record(z.string(), z.unknown()).default({}),
  params: z.record(z.string(), z.unknown()).default({}),
  dataset: z.string().nullish(),
  command: z.unknown().optional(),
  /** The experiment's attempt within its logical run; orders concurrent and late writes. */
  attempt: z.number().int().min(1).default(1),
  workflowId: z.string().nullish(),
  runId: z.string().nullish(),
  error: z.string().nullish(),
  failure: z.record(z.string(), z.unknown()).nullish(),
  exitCode: z.number().int().nullish(),
  outputs: z.unknown().optional(),
  durationMs: z.number().nonnegative().nullish(),
  /** Longest time the step went without output or file growth (progressTimeout recommendations). */
  longestSilenceMs: z.number().nonnegative().nullish(),
  startedAt: isoDate.nullish(),
  /** Defaults to now; with `attempt` it decides which of two writes for one key is newer. */
  finishedAt: isoDate.optional(),
});
export type ExperimentResultInput = z.input<typeof experimentResultSchema>;

export const batchRecordSchema = z.object({
  batchId: z.string().min(1).max(200),
  /** 'running' records the start; any other status records the end. */
  status: z.enum(['running', 'completed', 'completed_with_failures', 'failed', 'cancelled']),
  pipeline: z.string().min(1).default('experimentBatch'),
  input: z.unknown().optional(),
  summary: z.unknown().optional(),
  workflowId: z.string().nullish(),
  runId: z.string().nullish(),
  at: isoDate.optional(),
});
export type BatchRecordInput = z.input<typeof batchRecordSchema>;

export function createResultActivities(deps: ActivityDeps) {
  const exportsDir = path.join(path.dirname(path.resolve(deps.runsDir)), 'exports');

  return {
    /**
     * Upserts one experiment's result. Idempotent: the same write twice leaves one row; a write from
     * an older attempt (or an earlier finish of the same attempt) than the stored one is ignored
     * and reported as `written: false`.
     */
    async recordExperimentResult(row: ExperimentResultInput): Promise<{ written: boolean }> {
      const r = parseInput(experimentResultSchema, row, 'row');
      return { written: await dbCall(() => upsertExperimentResult(deps.pool, r)) };
    },

    /** Records a batch's start (status 'running') or end (any other status). Idempotent. */
    async recordBatch(batch: BatchRecordInput): Promise<{ written: boolean }> {
      const b = parseInput(batchRecordSchema, batch, 'batch');
      return { written: await dbCall(() => upsertBatch(deps.pool, b)) };
    },

    /**
     * Writes a batch's results as CSV or JSON and returns a reference to the file (never the
     * content: exports can exceed Temporal's payload limit). `path` is relative to the exports
     * directory next to the runs directory; by default `<batchId>.<format>`.
     */
    async exportBatchResults(args: { batchId: string; format: ExportFormat; path?: string }): Promise<{
      path: string;
      rows: number;
      bytes: number;
    }> {
      const { batchId, format } = args;
      if (format !== 'csv' && format !== 'json') {
        throw ApplicationFailure.nonRetryable(`format: must be "csv" or "json", not "${String(format)}"`, 'InvalidInput');
      }
      const rel = args.path ?? `${batchId.replace(/[^A-Za-z0-9._-]/g, '_')}.${format}`;
      const target = path.resolve(exportsDir, rel);
      if (path.isAbsolute(rel) || !target.startsWith(exportsDir + path.sep)) {
        throw ApplicationFailure.nonRetryable(`path: ${rel} must be a relative path inside ${exportsDir}`, 'InvalidInput');
      }
      const results = await dbCall(() => loadResults(deps.pool, batchId));
      const text = format === 'csv' ? toCsv(results) : toJson(results);
      await writeAtomically(target, text);
      return { path: target, rows: results.length, bytes: Buffer.byteLength(text) };
    },
  };
}

export async function upsertExperimentResult(pool: pg.Pool, r: z.output<typeof experimentResultSchema>): Promise<boolean> {
  const configHash = sha256(canonicalJson({ params: r.params, dataset: r.dataset ?? null, command: r.command ?? null }));
  const res = await pool.query(
    `INSERT INTO experiment_results AS cur
       (batch_id, experiment, status, metrics, params, dataset, command, config_hash, attempt,
        workflow_id, run_id, error, failure, exit_code, outputs, duration_ms, started_at, finished_at, longest_silence_ms)
     VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6, $7::jsonb, $8, $9, $10, $11, $12, $13::jsonb, $14, $15::jsonb, $16, $17, $18, $19)
     ON CONFLICT (batch_id, experiment) DO UPDATE SET
       status = EXCLUDED.status, metrics = EXCLUDED.metrics, params = EXCLUDED.params,
       dataset = EXCLUDED.dataset, command = EXCLUDED.command, config_hash = EXCLUDED.config_hash,
       attempt = EXCLUDED.attempt, workflow_id = EXCLUDED.workflow_id, run_id = EXCLUDED.run_id,
       error = EXCLUDED.error, failure = EXCLUDED.failure, exit_code = EXCLUDED.exit_code,
       outputs = EXCLUDED.outputs, duration_ms = EXCLUDED.duration_ms, longest_silence_ms = EXCLUDED.longest_silence_ms,
       started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, updated_at = now()
     -- Never let an older run or attempt, or a stale retry of an earlier write, replace a newer
     -- result. A later run of the same logical experiment (started later) wins over every attempt
     -- of an earlier one; within a run, the higher attempt wins.
     WHERE (COALESCE(cur.started_at, '-infinity'), cur.attempt, cur.finished_at)
        <= (COALESCE(EXCLUDED.started_at, '-infinity'), EXCLUDED.attempt, EXCLUDED.finished_at)
     RETURNING id`,
    [
      r.batchId,
      r.experiment,
      r.status,
      JSON.stringify(r.metrics),
      JSON.stringify(r.params),
      r.dataset ?? null,
      jsonOrNull(r.command),
      configHash,
      r.attempt,
      r.workflowId ?? null,
      r.runId ?? null,
      r.error ?? null,
      jsonOrNull(r.failure),
      r.exitCode ?? null,
      jsonOrNull(r.outputs),
      r.durationMs == null ? null : Math.round(r.durationMs),
      r.startedAt ?? null,
      r.finishedAt ?? new Date(),
      r.longestSilenceMs == null ? null : Math.round(r.longestSilenceMs),
    ],
  );
  return res.rowCount === 1;
}

export async function upsertBatch(pool: pg.Pool, b: z.output<typeof batchRecordSchema>): Promise<boolean> {
  const at = b.at ?? new Date();
  if (b.status === 'running') {
    // A retried or replayed start never reopens a finished batch; continue-as-new updates the run id.
    const res = await pool.query(
      `INSERT INTO batches AS cur (batch_id, pipeline, input, status, workflow_id, run_id, started_at)
       VALUES ($1, $2, $3::jsonb, 'running', $4, $5, $6)
       ON CONFLICT (batch_id) DO UPDATE SET
         input = EXCLUDED.input,
         workflow_id = COALESCE(EXCLUDED.workflow_id, cur.workflow_id),
         run_id = COALESCE(EXCLUDED.run_id, cur.run_id),
         updated_at = now()
       WHERE cur.finished_at IS NULL
       RETURNING batch_id`,
      [b.batchId, b.pipeline, JSON.stringify(b.input ?? {}), b.workflowId ?? null, b.runId ?? null, at],
    );
    return res.rowCount === 1;
  }
  const res = await pool.query(
    `INSERT INTO batches AS cur (batch_id, pipeline, input, status, summary, workflow_id, run_id, started_at, finished_at)
     VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6, $7, $8, $8)
     ON CONFLICT (batch_id) DO UPDATE SET
       status = EXCLUDED.status,
       summary = EXCLUDED.summary,
       input = CASE WHEN $9::boolean THEN EXCLUDED.input ELSE cur.input END,
       workflow_id = COALESCE(EXCLUDED.workflow_id, cur.workflow_id),
       run_id = COALESCE(EXCLUDED.run_id, cur.run_id),
       finished_at = EXCLUDED.finished_at,
       updated_at = now()
     WHERE cur.finished_at IS NULL OR cur.finished_at <= EXCLUDED.finished_at
     RETURNING batch_id`,
    [
      b.batchId,
      b.pipeline,
      JSON.stringify(b.input ?? {}),
      b.status,
      jsonOrNull(b.summary),
      b.workflowId ?? null,
      b.runId ?? null,
      at,
      b.input !== undefined,
    ],
  );
  return res.rowCount === 1;
}

function jsonOrNull(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}

export { canonicalJson };

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

async function writeAtomically(target: string, text: string): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true });
  // Readers see the previous export or the new one, never half a file.
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function parseInput<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(describeIssues(parsed.error, root), 'InvalidInput');
  }
  return parsed.data;
}

/**
 * Data errors (class 22: bad value, class 23: constraint) fail the same way on every retry, so
 * they are non-retryable; anything else (connection lost, server restarting) is worth retrying.
 */
async function dbCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isDataError(err))
      throw ApplicationFailure.nonRetryable(`database rejected the write (${err.code}): ${err.message}`, 'InvalidResult');
    throw err;
  }
}
