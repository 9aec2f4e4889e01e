import { readFile, writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { isYamlFile, parseDefinitionText } from '../../config/input-file.js';
import type pg from 'pg';
import { durationToMs, formatDuration, stepPolicy, type ConversationDefinition } from '../../shared/conversations/schemas.js';
import { assertValidDefinition } from '../../shared/conversations/definition-validator.js';

// Latency and failure metrics per step and actor, computed in SQL from the audit log, and timeout
// recommendations from them. The seed set one global 120 s reaper threshold that killed slow but
// healthy extractions and gave 0.2 s scripts two minutes of grace; here each step's timeout is
// compared with its own measured p99.

export interface StepMetrics {
  definition: string;
  step: string;
  actor: string;
  attempts: number;
  completed: number;
  failed: number;
  timedOut: number;
  failureRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface MetricsQuery {
  definition?: string;
  /** Look-back window in days (default 7). */
  days?: number;
}

/** Latency percentiles over completed attempts, failure rate over all, per (definition, step, actor). */
export async function stepMetrics(pool: pg.Pool, q: MetricsQuery = {}): Promise<StepMetrics[]> {
  const res = await pool.query(
    `SELECT definition, step, actor,
            count(*)::int AS attempts,
            count(*) FILTER (WHERE status = 'completed')::int AS completed,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'timed_out')::int AS timed_out,
            (count(*) FILTER (WHERE status IN ('failed', 'timed_out')))::float8 / count(*) AS failure_rate,
            percentile_cont(0.50) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status = 'completed') AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status = 'completed') AS p95,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status = 'completed') AS p99,
            max(latency_ms) FILTER (WHERE status = 'completed') AS max_ms
     FROM conversation_attempts
     WHERE finished_at >= now() - make_interval(days => $1::int) AND ($2::text IS NULL OR definition = $2)
     GROUP BY definition, step, actor
     ORDER BY definition, step, actor`,
    [q.days ?? 7, q.definition ?? null],
  );
  return res.rows.map((r) => ({
    definition: r.definition,
    step: r.step,
    actor: r.actor,
    attempts: r.attempts,
    completed: r.completed,
    failed: r.failed,
    timedOut: r.timed_out,
    failureRate: r.failure_rate,
    p50Ms: r.p50,
    p95Ms: r.p95,
    p99Ms: r.p99,
    maxMs: r.max_ms,
  }));
}

/** Recomputes the daily rows of conversation_metrics for the last `days` days (idempotent upsert). */
export async function refreshMetrics(pool: pg.Pool, days = 7): Promise<number> {
  const res = await pool.query(
    `INSERT INTO conversation_metrics AS m
       (day, definition, step, actor, attempts, completed, failed, timed_out, failure_rate, p50_ms, p95_ms, p99_ms, max_ms, computed_at)
     SELECT (finished_at AT TIME ZONE 'UTC')::date, definition, step, actor,
            count(*), count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),
            count(*) FILTER (WHERE status = 'timed_out'),
            (count(*) FILTER (WHERE status IN ('failed', 'timed_out')))::float8 / count(*),
            percentile_cont(0.50) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status = 'completed'),
            percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status = 'completed'),
            percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE status = 'completed'),
            max(latency_ms) FILTER (WHERE status = 'completed'),
            now()
     FROM conversation_attempts
     WHERE finished_at >= (now() AT TIME ZONE 'UTC')::date - $1::int
     GROUP BY 1, definition, step, actor
     ON CONFLICT (day, definition, step, actor) DO UPDATE SET
       attempts = EXCLUDED.attempts, completed = EXCLUDED.completed, failed = EXCLUDED.failed,
       timed_out = EXCLUDED.timed_out, failure_rate = EXCLUDED.failure_rate, p50_ms = EXCLUDED.p50_ms,
       p95_ms = EXCLUDED.p95_ms, p99_ms = EXCLUDED.p99_ms, max_ms = EXCLUDED.max_ms, computed_at = now()`,
    [days],
  );
  return res.rowCount ?? 0;
}

export interface RecommendOptions {
  days?: number;
  /** Never recommend less than this (ms). */
  floorMs?: number;
  /** Recommended = max(factor × p99, floor). */
  factor?: number;
  /** Fewer completed attempts than this: no recommendation. */
  minSamples?: number;
  /** A timeout above looseFactor × recommended is flagged as too loose. */
  looseFactor?: number;
}

export interface TimeoutRecommendation {
  step: string;
  configuredMs: number;
  configured: string;
  samples: number;
  timedOut: number;
  p99Ms: number | null;
  recommendedMs: number | null;
  recommended: string | null;
  verdict: 'ok' | 'too_tight' | 'too_loose' | 'insufficient_data';
}

/** Rounds up to a readable duration: whole seconds, whole 5 s above a minute, whole minutes above 10. */
function niceCeil(ms: number): number {
  if (ms <= 60_000) return Math.ceil(ms / 1000) * 1000;
  if (ms <= 600_000) return Math.ceil(ms / 5000) * 5000;
  return Math.ceil(ms / 60_000) * 60_000;
}

/** For each step: its configured timeout against max(factor × p99, floor) of its measured latency. */
export async function recommendTimeouts(
  pool: pg.Pool,
  def: ConversationDefinition,
  opts: RecommendOptions = {},
): Promise<TimeoutRecommendation[]> {
  const floorMs = opts.floorMs ?? 5000;
  const factor = opts.factor ?? 2;
  const minSamples = opts.minSamples ?? 20;
  const looseFactor = opts.looseFactor ?? 4;
  const metrics = await stepMetrics(pool, { definition: def.name, days: opts.days });
  return def.steps.map((step) => {
    const configured = stepPolicy(def, step).timeout;
    const configuredMs = durationToMs(configured);
    const rows = metrics.filter((m) => m.step === step.id);
    const samples = rows.reduce((n, m) => n + m.completed, 0);
    const timedOut = rows.reduce((n, m) => n + m.timedOut, 0);
    const p99 = rows.reduce<number | null>((acc, m) => (m.p99Ms === null ? acc : Math.max(acc ?? 0, m.p99Ms)), null);
    if (samples < minSamples || p99 === null) {
      return {
        step: step.id,
        configuredMs,
        configured: String(configured),
        samples,
        timedOut,
        p99Ms: p99,
        recommendedMs: null,
        recommended: null,
        verdict: 'insufficient_data' as const,
      };
    }
    const recommendedMs = niceCeil(Math.max(factor * p99, floorMs));
    const verdict = configuredMs < recommendedMs ? 'too_tight' : configuredMs > looseFactor * recommendedMs ? 'too_loose' : 'ok';
    return {
      step: step.id,
      configuredMs,
      configured: String(configured),
      samples,
      timedOut,
      p99Ms: p99,
      recommendedMs,
      recommended: formatDuration(recommendedMs),
      verdict,
    };
  });
}

/**
 * Writes the recommended timeouts of steps flagged too tight or too loose into a definition file,
 * JSON or YAML (a shorter heartbeat timeout is kept below the new timeout). Validates the result
 * before writing; returns the steps changed. A YAML file keeps its comments and layout.
 */
export async function applyTimeoutRecommendations(file: string, recs: TimeoutRecommendation[]): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  const doc = isYamlFile(file) ? parseDocument(text) : null;
  const raw = (doc ? doc.toJS() : parseDefinitionText(text, file)) as {
    steps: Array<Record<string, unknown>>;
    defaults?: { heartbeatTimeout?: string | number };
  };
  const changed: string[] = [];
  for (const rec of recs) {
    if (rec.recommended === null || (rec.verdict !== 'too_tight' && rec.verdict !== 'too_loose')) continue;
    const index = raw.steps.findIndex((s) => s.id === rec.step);
    const step = raw.steps[index];
    if (!step) continue;
    step.timeout = rec.recommended;
    doc?.setIn(['steps', index, 'timeout'], rec.recommended);
    const hb = (step.heartbeatTimeout ?? raw.defaults?.heartbeatTimeout ?? '30s') as string | number;
    if (durationToMs(hb) >= rec.recommendedMs!) {
      step.heartbeatTimeout = formatDuration(Math.max(1000, Math.floor(rec.recommendedMs! / 2 / 1000) * 1000));
      doc?.setIn(['steps', index, 'heartbeatTimeout'], step.heartbeatTimeout);
    }
    changed.push(rec.step);
  }
  if (changed.length > 0) {
    assertValidDefinition(raw);
    await writeFile(file, doc ? doc.toString() : `${JSON.stringify(raw, null, 2)}\n`);
  }
  return changed;
}
