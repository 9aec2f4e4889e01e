import type pg from 'pg';

// The analysis pipeline is built elsewhere; its page appears only once its tables exist.

export async function tableExists(pool: pg.Pool, table: string): Promise<boolean> {
  const { rows } = await pool.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [table]);
  return rows[0]?.ok ?? false;
}

/**
 * Findings per target, analyzer and severity (analysis_findings from the analysis pipeline's
 * migration); null when that pipeline's tables are not in this database.
 */
export async function findingsSummary(
  pool: pg.Pool,
): Promise<
  | { pipelineId: string; model: string; app: string; analyzer: string; severity: string; count: number; targetStatus: string | null }[]
  | null
> {
  if (!(await tableExists(pool, 'analysis_findings')) || !(await tableExists(pool, 'analysis_targets'))) return null;
  const { rows } = await pool.query(
    `SELECT f.pipeline_id, f.model, f.app, f.analyzer, f.severity, count(*)::int AS count, t.status AS target_status
       FROM analysis_findings f
       LEFT JOIN analysis_targets t USING (pipeline_id, model, app)
      GROUP BY 1, 2, 3, 4, 5, 7 ORDER BY 1, 2, 3, 4, 5 LIMIT 1000`,
  );
  return rows.map((r) => ({
    pipelineId: r.pipeline_id,
    model: r.model,
    app: r.app,
    analyzer: r.analyzer,
    severity: r.severity,
    count: r.count,
    targetStatus: r.target_status,
  }));
}
