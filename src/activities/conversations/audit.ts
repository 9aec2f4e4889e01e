import { ApplicationFailure } from '@temporalio/activity';
import { insertAttempt, type AttemptRecord } from '../../db/conversations/attempts.js';
import type { ActivityDeps } from '../deps.js';

// The audit log's only writer; the table, its key and why nothing else writes are described in
// src/db/conversations/attempts.ts.

export type { AttemptRecord, AttemptStatus } from '../../db/conversations/attempts.js';

export function createAuditActivities(deps: ActivityDeps) {
  return {
    async recordConversationAttempt(record: AttemptRecord): Promise<{ recorded: boolean }> {
      if (!record?.runId || !record.step || !(record.attempt >= 1)) {
        throw ApplicationFailure.nonRetryable('attempt record needs runId, step and attempt >= 1', 'InvalidInput');
      }
      return { recorded: await insertAttempt(deps.pool, record) };
    },
  };
}
