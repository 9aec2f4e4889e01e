import type pg from 'pg';

// Reading stored findings back (CLI `shepherd analysis findings`, tests): filtered, paged and
// counted in SQL, so a report of any size is read a page at a time.

export interface FindingsFilter {
  pipelineId: string;
  model?: string;
  app?: string;
  analyzer?: string;
  severity?: string;
  limit?: number;
  offset?: number;
}

export interface StoredFinding {
  model: string;
  app: string;
  analyzer: string;
  rule: string;
  severity: string;
  location: string;
  message: string;
  runId: string;
  attempt: number;
}

export interface AnalyzerRunRow {
  model: string;
  app: string;
  analyzer: string;
  status: string;
  reason: string | null;
  findings: number;
  bySeverity: Record<string, number>;
  metrics: Record<string, number> | null;
  reportRef: string | null;
  runId: string;
  attempt: number;
  durationMs: number;
}

function where(f: FindingsFilter): { sql: string; params: unknown[] } {
  const clauses = ['pipeline_id = $1'];
  const params: unknown[] = [f.pipelineId];
  for (const [col, v] of [
    ['model', f.model],
    ['app', f.app],
    ['analyzer', f.analyzer],
    ['severity', f.severity],
  ] as const) {
    if (v === undefined) continue;
    params.push(v);
    clauses.push(`${col} = $${params.length}`);
  }
  return { sql: clauses.join(' AND '), params };
}

const SEVERITY_ORDER = `CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END`;

export async function listFindings(pool: pg.Pool, f: FindingsFilter): Promise<StoredFinding[]> {
  const w = where(f);
  const res = await pool.query(
    `SELECT model, app, analyzer, rule, severity, location, message, run_id, attempt FROM analysis_findings
     WHERE ${w.sql} ORDER BY model, app, analyzer, ${SEVERITY_ORDER}, rule, location
     LIMIT ${Math.max(1, Math.min(f.limit ?? 100, 10_000))} OFFSET ${Math.max(0, f.offset ?? 0)}`,
    w.params,
  );
  return res.rows.map((r) => ({
    model: r.model,
    app: r.app,
    analyzer: r.analyzer,
    rule: r.rule,
    severity: r.severity,
    location: r.location,
    message: r.message,
    runId: r.run_id,
    attempt: r.attempt,
  }));
}

export async function countFindings(pool: pg.Pool, f: FindingsFilter): Promise<number> {
  const w = where(f);
  const res = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM analysis_findings WHERE ${w.sql}`, w.params);
  return Number(res.rows[0]!.n);
}

export async function listAnalyzerRuns(pool: pg.Pool, pipelineId: string): Promise<AnalyzerRunRow[]> {
  const res = await pool.query(
    `SELECT model, app, analyzer, status, reason, findings, by_severity, metrics, report_ref, run_id, attempt, duration_ms
     FROM analysis_analyzer_runs WHERE pipeline_id = $1 ORDER BY model, app, analyzer`,
    [pipelineId],
  );
  return res.rows.map((r) => ({
    model: r.model,
    app: r.app,
    analyzer: r.analyzer,
    status: r.status,
    reason: r.reason,
    findings: r.findings,
    bySeverity: r.by_severity,
    metrics: r.metrics,
    reportRef: r.report_ref,
    runId: r.run_id,
    attempt: r.attempt,
    durationMs: r.duration_ms,
  }));
}
