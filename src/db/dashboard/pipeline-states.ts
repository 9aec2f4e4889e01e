import type pg from 'pg';

// The database's own view of each pipeline run's outcome, by workflow ID: Temporal says a batch
// "Completed", only the row says whether some of its experiments failed.

export interface RunState {
  workflowId: string;
  kind: string;
  id: string;
  status: string;
}

export async function pipelineStates(pool: pg.Pool, workflowIds: string[]): Promise<Map<string, RunState>> {
  if (workflowIds.length === 0) return new Map();
  const { rows } = await pool.query<RunState>(
    `SELECT workflow_id AS "workflowId", pipeline AS kind, batch_id AS id, status FROM batches WHERE workflow_id = ANY($1)
     UNION ALL
     SELECT workflow_id, 'simulationJob', job_id, status FROM simulation_jobs WHERE workflow_id = ANY($1)`,
    [workflowIds],
  );
  return new Map(rows.map((r) => [r.workflowId, r]));
}
