import { ApplicationFailure } from '@temporalio/activity';
import type pg from 'pg';
import { insertAttempt, insertAttempts, type AttemptRecord } from '../../db/conversations/attempts.js';
import type { ActivityDeps } from '../deps.js';
import { AUDIT_NOT_RECORDED } from '../../shared/conversations/schemas.js';

// The audit log's writers; the table, its key and who may write what are described in
// src/db/conversations/attempts.ts.

export type { AttemptRecord, AttemptStatus } from '../../db/conversations/attempts.js';

function checkRecord(record: AttemptRecord): void {
  if (!record?.runId || !record.step || !(record.attempt >= 1)) {
    throw ApplicationFailure.nonRetryable('attempt record needs runId, step and attempt >= 1', 'InvalidInput');
  }
}

export function createAuditActivities(deps: ActivityDeps) {
  return {
    async recordConversationAttempt(record: AttemptRecord): Promise<{ recorded: boolean }> {
      checkRecord(record);
      return { recorded: await insertAttempt(deps.pool, record) };
    },
  };
}

/**
 * Writes the audit rows a model call carries (earlier attempts' outcomes, decided in the
 * workflow's history) before the model is called; how many are in the log now. When they cannot
 * be written the call fails with AUDIT_NOT_RECORDED, and the workflow writes them itself.
 */
export async function recordCarriedAttempts(pool: pg.Pool | undefined, rows: AttemptRecord[] | undefined): Promise<number | undefined> {
  if (!rows?.length) return undefined;
  checkCarried(rows);
  try {
    if (!pool) throw new Error('this worker was started without a database');
    await insertAttempts(pool, rows);
    return rows.length;
  } catch (err) {
    throw auditNotRecorded(`the audit rows of earlier attempts were not recorded, so the model was not called: ${(err as Error).message}`);
  }
}

/** Refuses carried rows that lack their key (a bug in the caller, not a passing fault). */
export function checkCarried(rows: AttemptRecord[]): void {
  rows.forEach(checkRecord);
}

/** The model was not called because what must precede the call could not be written; the workflow writes it and queues the call. */
export function auditNotRecorded(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: AUDIT_NOT_RECORDED, nonRetryable: true, message });
}
