import type pg from 'pg';

// Findings of one analyzer on one target, stored so that retries and late attempts cannot
// duplicate or clobber them: the analysis_analyzer_runs row is the arbiter. An attempt writes
// only if it is the newest seen for (pipeline, model, app, analyzer) — a higher attempt of the
// same workflow run, or an attempt scheduled later by another run — and then replaces the whole
// set in the same transaction. The row lock taken by the upsert serializes racing attempts.

export interface FindingRow {
  rule: string;
  severity: string;
  location: string;
  message: string;
}

export interface AnalyzerAttemptKey {
  pipelineId: string;
  model: string;
  app: string;
  analyzer: string;
  runId: string;
  attempt: number;
  /** When Temporal scheduled this attempt (epoch ms): orders attempts of different runs. */
  scheduledMs: number;
}

export interface AnalyzerRunRecord {
  status: 'completed' | 'failed' | 'skipped';
  reason?: string;
  bySeverity: Record<string, number>;
  metrics?: Record<string, number>;
  reportRef?: string;
  durationMs: number;
}

export interface StoreOutcome {
  /** False when a newer attempt had already stored its result (this one changed nothing). */
  stored: boolean;
  winner: { runId: string; attempt: number };
  findings: number;
}

const CHUNK = 1000;

export async function storeAnalyzerResult(
  pool: pg.Pool,
  key: AnalyzerAttemptKey,
  run: AnalyzerRunRecord,
  findings: readonly FindingRow[],
): Promise<StoreOutcome> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const target = [key.pipelineId, key.model, key.app, key.analyzer];
    const upsert = await client.query<{ run_id: string; attempt: number }>(
      `INSERT INTO analysis_analyzer_runs
         (pipeline_id, model, app, analyzer, run_id, attempt, scheduled_ms, status, reason, findings, by_severity, metrics, report_ref, duration_ms, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, now())
       ON CONFLICT (pipeline_id, model, app, analyzer) DO UPDATE SET
         run_id = EXCLUDED.run_id, attempt = EXCLUDED.attempt, scheduled_ms = EXCLUDED.scheduled_ms,
         status = EXCLUDED.status, reason = EXCLUDED.reason, findings = EXCLUDED.findings,
         by_severity = EXCLUDED.by_severity, metrics = EXCLUDED.metrics, report_ref = EXCLUDED.report_ref,
         duration_ms = EXCLUDED.duration_ms, updated_at = now()
       WHERE (analysis_analyzer_runs.run_id = EXCLUDED.run_id AND EXCLUDED.attempt >= analysis_analyzer_runs.attempt)
          OR (analysis_analyzer_runs.run_id <> EXCLUDED.run_id AND EXCLUDED.scheduled_ms > analysis_analyzer_runs.scheduled_ms)
       RETURNING run_id, attempt`,
      [
        ...target,
        key.runId,
        key.attempt,
        key.scheduledMs,
        run.status,
        run.reason ?? null,
        findings.length,
        JSON.stringify(run.bySeverity),
        run.metrics ? JSON.stringify(run.metrics) : null,
        run.reportRef ?? null,
        Math.round(run.durationMs),
      ],
    );
    if (upsert.rowCount === 0) {
      const winner = await client.query<{ run_id: string; attempt: number; findings: number }>(
        'SELECT run_id, attempt, findings FROM analysis_analyzer_runs WHERE pipeline_id = $1 AND model = $2 AND app = $3 AND analyzer = $4',
        target,
      );
      await client.query('ROLLBACK');
      const w = winner.rows[0]!;
      return { stored: false, winner: { runId: w.run_id, attempt: w.attempt }, findings: w.findings };
    }
    await client.query('DELETE FROM analysis_findings WHERE pipeline_id = $1 AND model = $2 AND app = $3 AND analyzer = $4', target);
    for (let i = 0; i < findings.length; i += CHUNK) {
      const part = findings.slice(i, i + CHUNK);
      await client.query(
        `INSERT INTO analysis_findings (pipeline_id, model, app, analyzer, rule, severity, location, message, run_id, attempt)
         SELECT $1, $2, $3, $4, r, s, l, m, $5, $6 FROM unnest($7::text[], $8::text[], $9::text[], $10::text[]) AS t(r, s, l, m)
         ON CONFLICT (pipeline_id, model, app, analyzer, rule, location) DO NOTHING`,
        [
          ...target,
          key.runId,
          key.attempt,
          part.map((f) => f.rule),
          part.map((f) => f.severity),
          part.map((f) => f.location),
          part.map((f) => f.message),
        ],
      );
    }
    await client.query('COMMIT');
    return { stored: true, winner: { runId: key.runId, attempt: key.attempt }, findings: findings.length };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
