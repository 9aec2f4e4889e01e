import {
  type Client,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type ScheduleOptionsAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { WORKSPACE_CLEANUP_WORKFLOW_TYPE, type RetentionPolicy, type WorkspaceCleanupInput } from '../shared/hygiene/schemas.js';

// Temporal Schedules that Shepherd keeps. Created idempotently: at every worker start or by a
// command, any number of times, from any number of processes at once. The first creates it; the
// others find it and bring its spec and action up to date.

export const CONVERSATION_METRICS_SCHEDULE_ID = 'shepherd-conversation-metrics';

export interface MetricsScheduleOptions {
  taskQueue: string;
  scheduleId?: string;
  /** UTC hour of the daily refresh (default 3). */
  hour?: number;
  /** Look-back window the refresh recomputes (default 7 days). */
  days?: number;
}

export async function ensureConversationMetricsSchedule(client: Client, opts: MetricsScheduleOptions): Promise<'created' | 'updated'> {
  const scheduleId = opts.scheduleId ?? CONVERSATION_METRICS_SCHEDULE_ID;
  const spec: ScheduleSpec = { calendars: [{ hour: opts.hour ?? 3, comment: 'daily conversation latency metrics' }] };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: 'conversationMetrics',
    workflowId: `${scheduleId}-run`,
    taskQueue: opts.taskQueue,
    args: [{ days: opts.days ?? 7 }],
    workflowExecutionTimeout: '1h',
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      // A slow refresh must not pile up behind itself.
      policies: { overlap: 'SKIP', catchupWindow: '1d' },
      memo: { purpose: 'Recompute conversation_metrics (p50/p95/p99 per step and model) from the audit log' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action }));
    return 'updated';
  }
}

export const WORKSPACE_CLEANUP_SCHEDULE_ID = 'shepherd-workspace-cleanup';

export interface WorkspaceCleanupScheduleOptions {
  taskQueue: string;
  scheduleId?: string;
  /** Interval between cleanups ("1h", "30m"...); "0" removes the Schedule. */
  every: string;
  /** The retention policy (from env, src/config/env.ts): part of the action, so the Web UI shows it. */
  policy: RetentionPolicy;
}

/** Creates (or brings up to date, or with every "0" deletes) the workspace cleanup Schedule. */
export async function ensureWorkspaceCleanupSchedule(
  client: Client,
  opts: WorkspaceCleanupScheduleOptions,
): Promise<'created' | 'updated' | 'deleted' | 'absent'> {
  const scheduleId = opts.scheduleId ?? WORKSPACE_CLEANUP_SCHEDULE_ID;
  if (opts.every === '0') {
    try {
      await client.schedule.getHandle(scheduleId).delete();
      return 'deleted';
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return 'absent';
      throw err;
    }
  }
  const spec: ScheduleSpec = { intervals: [{ every: opts.every as Duration }] };
  const input: WorkspaceCleanupInput = { dryRun: false, policy: opts.policy };
  const action: ScheduleOptionsAction = {
    type: 'startWorkflow',
    workflowType: WORKSPACE_CLEANUP_WORKFLOW_TYPE,
    workflowId: `${scheduleId}-run`,
    taskQueue: opts.taskQueue,
    args: [input],
    workflowExecutionTimeout: '2h',
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      policies: { overlap: 'SKIP', catchupWindow: '1h' },
      memo: { purpose: 'Remove step workspaces the retention policy no longer keeps (README "Disk hygiene")' },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action }));
    return 'updated';
  }
}
