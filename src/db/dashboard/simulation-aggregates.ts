import type pg from 'pg';

export interface AggregateRow {
  parameterKey: string;
  parameters: Record<string, unknown>;
  replicates: number;
  succeeded: number;
  failed: number;
  aggregates: Record<
    string,
    {
      count: number;
      mean?: number | null;
      std?: number | null;
      min?: number | null;
      max?: number | null;
      percentiles?: Record<string, number | null>;
    }
  >;
  computedAt: string;
}

/** A job's per-parameter-set aggregates (primary key range scan). */
export async function simulationAggregates(pool: pg.Pool, jobId: string): Promise<AggregateRow[]> {
  const { rows } = await pool.query(
    `SELECT parameter_key, parameters, replicates, succeeded, failed, aggregates, computed_at
       FROM simulation_aggregates WHERE job_id = $1 ORDER BY parameter_key`,
    [jobId],
  );
  return rows.map((r) => ({
    parameterKey: r.parameter_key,
    parameters: r.parameters as Record<string, unknown>,
    replicates: r.replicates,
    succeeded: r.succeeded,
    failed: r.failed,
    aggregates: r.aggregates,
    computedAt: new Date(r.computed_at).toISOString(),
  }));
}
