import type pg from 'pg';
import type {
  ClaimTargetInput,
  ClaimTargetResult,
  FinishTargetInput,
  RecordTargetsInput,
  SkipTargetsInput,
} from '../../shared/analysis/activities.js';

// analysis_targets: one row per (pipeline, model, app). Every write is keyed so that a retried
// activity is a no-op and a second pipeline or appAnalysis run can never take a row over.

/** Registers a pipeline's targets as pending; rows that already exist (another start) are left alone. */
export async function recordTargets(pool: pg.Pool, input: RecordTargetsInput): Promise<void> {
  if (input.targets.length === 0) return;
  await pool.query(
    `INSERT INTO analysis_targets (pipeline_id, model, app, workflow_id, source_dir, pipeline_run_id)
     SELECT $1, t.model, t.app, t.workflow_id, t.source_dir, $2
       FROM jsonb_to_recordset($3::jsonb) AS t(model text, app text, workflow_id text, source_dir text)
     ON CONFLICT (pipeline_id, model, app) DO NOTHING`,
    [
      input.pipelineId,
      input.pipelineRunId,
      JSON.stringify(input.targets.map((t) => ({ model: t.model, app: t.app, workflow_id: t.workflowId, source_dir: t.sourceDir }))),
    ],
  );
}

/** Marks never-started targets skipped, only on rows this pipeline run registered and nobody claimed. */
export async function skipTargets(pool: pg.Pool, input: SkipTargetsInput): Promise<void> {
  if (input.targets.length === 0) return;
  await pool.query(
    `UPDATE analysis_targets a SET status = 'skipped', reason = t.reason, finished_at = now(), updated_at = now()
       FROM jsonb_to_recordset($3::jsonb) AS t(model text, app text, reason text)
      WHERE a.pipeline_id = $1 AND a.model = t.model AND a.app = t.app
        AND a.pipeline_run_id = $2 AND a.run_id IS NULL`,
    [input.pipelineId, input.pipelineRunId, JSON.stringify(input.targets)],
  );
}

/**
 * The appAnalysis run claims its row (creating it when started outside a pipeline). The first run
 * wins; the same run claiming again (a retried activity) is still the owner.
 */
export async function claimTarget(pool: pg.Pool, input: ClaimTargetInput): Promise<ClaimTargetResult> {
  const { rows } = await pool.query<{ run_id: string }>(
    `INSERT INTO analysis_targets (pipeline_id, model, app, workflow_id, source_dir, pipeline_run_id, run_id, status, started_at)
     VALUES ($1, $2, $3, $4, $5, '', $6, 'running', now())
     ON CONFLICT (pipeline_id, model, app) DO UPDATE
       SET run_id = excluded.run_id, status = 'running', started_at = now(), updated_at = now()
       WHERE analysis_targets.run_id IS NULL OR analysis_targets.run_id = excluded.run_id
     RETURNING run_id`,
    [input.pipelineId, input.model, input.app, input.workflowId, input.sourceDir, input.runId],
  );
  if (rows.length > 0) return { claimed: true };
  const owner = await pool.query<{ run_id: string | null }>(
    'SELECT run_id FROM analysis_targets WHERE pipeline_id = $1 AND model = $2 AND app = $3',
    [input.pipelineId, input.model, input.app],
  );
  return { claimed: false, ownerRunId: owner.rows[0]?.run_id ?? undefined };
}

/** The owning run records the target's end; any other run's write changes nothing. */
export async function finishTarget(pool: pg.Pool, input: FinishTargetInput): Promise<void> {
  await pool.query(
    `UPDATE analysis_targets SET status = $5, reason = $6, analyzers = $7::jsonb, findings = $8, finished_at = now(), updated_at = now()
      WHERE pipeline_id = $1 AND model = $2 AND app = $3 AND run_id = $4`,
    [
      input.pipelineId,
      input.model,
      input.app,
      input.runId,
      input.status,
      input.reason ?? null,
      JSON.stringify(input.analyzers),
      input.findings,
    ],
  );
}

export interface TargetRow {
  model: string;
  app: string;
  workflowId: string;
  status: string;
  reason: string | null;
  findings: number;
  analyzers: { analyzer: string; status: string; reason?: string; findings: number }[];
  startedAt: Date | null;
  finishedAt: Date | null;
}

export async function listTargets(pool: pg.Pool, pipelineId: string): Promise<TargetRow[]> {
  const { rows } = await pool.query(
    `SELECT model, app, workflow_id AS "workflowId", status, reason, findings, analyzers, started_at AS "startedAt", finished_at AS "finishedAt"
       FROM analysis_targets WHERE pipeline_id = $1 ORDER BY model, app`,
    [pipelineId],
  );
  return rows as TargetRow[];
}

export interface FindingsSummaryRow {
  model: string;
  app: string;
  analyzer: string;
  severity: string;
  count: number;
}

/** Findings counted per target, analyzer and severity (what `shepherd analysis findings` shows). */
export async function summarizeFindings(pool: pg.Pool, pipelineId: string): Promise<FindingsSummaryRow[]> {
  const { rows } = await pool.query(
    `SELECT model, app, analyzer, severity, count(*)::int AS count
       FROM analysis_findings WHERE pipeline_id = $1
      GROUP BY model, app, analyzer, severity
      ORDER BY model, app, analyzer, array_position(ARRAY['critical','high','medium','low','info'], severity)`,
    [pipelineId],
  );
  return rows as FindingsSummaryRow[];
}

export interface FindingRow {
  model: string;
  app: string;
  analyzer: string;
  rule: string;
  severity: string;
  location: string;
  message: string;
}

export interface FindingsFilter {
  model?: string;
  app?: string;
  analyzer?: string;
  minSeverity?: 'critical' | 'high' | 'medium' | 'low' | 'info';
  limit?: number;
}

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];

export async function listFindings(pool: pg.Pool, pipelineId: string, f: FindingsFilter = {}): Promise<FindingRow[]> {
  const allowed = f.minSeverity ? SEVERITIES.slice(0, SEVERITIES.indexOf(f.minSeverity) + 1) : SEVERITIES;
  const { rows } = await pool.query(
    `SELECT model, app, analyzer, rule, severity, location, message FROM analysis_findings
      WHERE pipeline_id = $1 AND ($2::text IS NULL OR model = $2) AND ($3::text IS NULL OR app = $3)
        AND ($4::text IS NULL OR analyzer = $4) AND severity = ANY($5::text[])
      ORDER BY array_position($6::text[], severity), model, app, analyzer, location LIMIT $7`,
    [pipelineId, f.model ?? null, f.app ?? null, f.analyzer ?? null, allowed, SEVERITIES, f.limit ?? 1000],
  );
  return rows as FindingRow[];
}
