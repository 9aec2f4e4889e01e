import type pg from 'pg';
import { attemptsParam, type AttemptRecord } from './attempts.js';

/** Which attempt of which step a worker is about to send to a model itself (see 070_conversation_model_calls.sql). */
export interface ModelCallKey {
  runId: string;
  step: string;
  attempt: number;
}

/**
 * Writes the audit rows a call carries (earlier attempts', in order; one already recorded is
 * skipped) and claims the attempt for the call; false when an earlier execution already claimed it.
 * One statement (one round trip, one transaction): both must be in the database before the model
 * is called, and a failure writes neither.
 */
export async function claimModelCallWithRows(pool: pg.Pool, key: ModelCallKey, rows: AttemptRecord[]): Promise<boolean> {
  const res = await pool.query<{ claimed: boolean }>('SELECT conversation_claim_model_call($1, $2, $3, $4::jsonb) AS claimed', [
    key.runId,
    key.step,
    key.attempt,
    attemptsParam(rows),
  ]);
  return res.rows[0]!.claimed;
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
