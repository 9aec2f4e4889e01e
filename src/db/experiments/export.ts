import { stringify } from 'csv-stringify/sync';
import type pg from 'pg';

// Exports are generated from experiment_results on demand, never appended to: however often a
// result is rewritten or an export regenerated, a CSV has exactly one header.

export type ExportFormat = 'csv' | 'json';

export interface ExportedResult {
  experiment: string;
  status: string;
  metrics: Record<string, unknown>;
  params: Record<string, unknown>;
  dataset: string | null;
  command: unknown;
  attempt: number;
  durationMs: number | null;
  error: string | null;
  exitCode: number | null;
  failure: unknown;
  outputs: unknown;
  configHash: string | null;
  workflowId: string | null;
  runId: string | null;
  startedAt: string | null;
  finishedAt: string;
}

/** Metrics most people look for first; the rest follow alphabetically. */
const PREFERRED_METRICS = ['accuracy', 'precision', 'recall', 'f1'];
const FIXED_COLUMNS = ['experiment', 'status', 'duration_ms', 'error'];

/** The export as a string, for the CLI and tests. */
export async function exportResults(pool: pg.Pool, batchId: string, format: ExportFormat): Promise<string> {
  const results = await loadResults(pool, batchId);
  return format === 'csv' ? toCsv(results) : toJson(results);
}

interface ResultRow {
  experiment: string;
  status: string;
  metrics: Record<string, unknown> | null;
  params: Record<string, unknown> | null;
  dataset: string | null;
  command: unknown;
  attempt: number;
  duration_ms: number | null;
  error: string | null;
  exit_code: number | null;
  failure: unknown;
  outputs: unknown;
  config_hash: string | null;
  workflow_id: string | null;
  run_id: string | null;
  started_at: Date | null;
  finished_at: Date;
}

export async function loadResults(pool: pg.Pool, batchId: string): Promise<ExportedResult[]> {
  const { rows } = await pool.query<ResultRow>(
    `SELECT experiment, status, metrics, params, dataset, command, attempt, duration_ms, error, exit_code,
            failure, outputs, config_hash, workflow_id, run_id, started_at, finished_at
       FROM experiment_results WHERE batch_id = $1 ORDER BY experiment`,
    [batchId],
  );
  return rows.map((r) => ({
    experiment: r.experiment,
    status: r.status,
    metrics: r.metrics ?? {},
    params: r.params ?? {},
    dataset: r.dataset,
    command: r.command,
    attempt: r.attempt,
    durationMs: r.duration_ms,
    error: r.error,
    exitCode: r.exit_code,
    failure: r.failure,
    outputs: r.outputs,
    configHash: r.config_hash,
    workflowId: r.workflow_id,
    runId: r.run_id,
    startedAt: r.started_at ? new Date(r.started_at).toISOString() : null,
    finishedAt: new Date(r.finished_at).toISOString(),
  }));
}

export function toJson(results: ExportedResult[]): string {
  return JSON.stringify(results, null, 2) + '\n';
}

/**
 * One header row, then one row per experiment: experiment, status, each metric (nested objects
 * flattened as `a.b`), duration_ms, error. Quoted per RFC 4180.
 */
export function toCsv(results: ExportedResult[]): string {
  const flat = results.map((r) => flatten(r.metrics));
  const keys = new Set(flat.flatMap((m) => Object.keys(m)));
  const metricKeys = [...PREFERRED_METRICS.filter((k) => keys.has(k)), ...[...keys].filter((k) => !PREFERRED_METRICS.includes(k)).sort()];
  // A metric named like a fixed column must not produce two columns with the same header.
  const metricHeader = metricKeys.map((k) => (FIXED_COLUMNS.includes(k) ? `metrics.${k}` : k));
  const header = ['experiment', 'status', ...metricHeader, 'duration_ms', 'error'];
  const rows = results.map((r, i) => [r.experiment, r.status, ...metricKeys.map((k) => flat[i]![k]), r.durationMs, r.error]);
  // RFC 4180 with CRLF; nested values as JSON; cells with edge spaces quoted so readers keep them.
  return stringify([header, ...rows], {
    record_delimiter: 'windows',
    // A bare LF is a line break to most readers even with CRLF records, so it is quoted too.
    quoted_match: [/^\s|\s$/, /[\r\n]/],
    cast: { object: (v) => JSON.stringify(v), boolean: (v) => String(v) },
  });
}

function flatten(obj: Record<string, unknown>, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v as Record<string, unknown>, key, out);
    else out[key] = v;
  }
  return out;
}
