import type pg from 'pg';

/** Which attempt of which step a worker is about to send to a model itself (see 070_conversation_model_calls.sql). */
export interface ModelCallKey {
  runId: string;
  step: string;
  attempt: number;
}

/** Claims the attempt for a call; false when an earlier execution of the same attempt already did. */
export async function claimModelCall(pool: pg.Pool, key: ModelCallKey): Promise<boolean> {
  const res = await pool.query('INSERT INTO conversation_model_calls (run_id, step, attempt) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    key.runId,
    key.step,
    key.attempt,
  ]);
  return (res.rowCount ?? 0) > 0;
}

/** Whether an execution of this attempt already claimed it (so the model may have been called). */
export async function modelCallClaimed(pool: pg.Pool, key: ModelCallKey): Promise<boolean> {
  const res = await pool.query('SELECT 1 FROM conversation_model_calls WHERE run_id = $1 AND step = $2 AND attempt = $3', [
    key.runId,
    key.step,
    key.attempt,
  ]);
  return res.rows.length > 0;
}
