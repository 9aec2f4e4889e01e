import { type Client, ScheduleAlreadyRunning, type ScheduleOptionsAction, type ScheduleSpec } from '@temporalio/client';

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
