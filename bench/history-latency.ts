import type { Client } from '@temporalio/client';

type History = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>;

/** A workflow's history, fetched once for every figure taken from it. */
export function fetchHistory(client: Client, workflowId: string): Promise<History> {
  return client.workflow.getHandle(workflowId).fetchHistory();
}

type Ts = { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined;
const ms = (t: Ts) =>
  t ? Number(typeof t.seconds === 'number' ? t.seconds : (t.seconds?.toNumber() ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : NaN;

/**
 * Per-activity latency from the server's own history timestamps: scheduled → completed. Uses
 * one clock (the server's) and includes dispatch, worker execution and completion.
 */
export function activityLatencies(history: History): number[] {
  const scheduled = new Map<string, number>();
  const out: number[] = [];
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), ms(e.eventTime as Ts));
    const done = e.activityTaskCompletedEventAttributes;
    if (done) out.push(ms(e.eventTime as Ts) - scheduled.get(String(done.scheduledEventId))!);
  }
  return out;
}

/**
 * Per-step time of a sequential workflow from the server's history: completed → completed of
 * consecutive activities (of `activityType` only, when given), so each interval holds one
 * workflow task and one activity, and nothing of the workflow's start or end.
 */
export function stepIntervals(history: History, activityType?: string): number[] {
  const typeOf = new Map<string, string | null | undefined>();
  const done: number[] = [];
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType?.name);
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed && (activityType === undefined || typeOf.get(String(completed.scheduledEventId)) === activityType)) {
      done.push(ms(e.eventTime as Ts));
    }
  }
  return done.slice(1).map((t, i) => t - done[i]!);
}

/**
 * How long a workflow's first workflow task took (started → completed, server clock): a new
 * workflow's creation in the worker (evaluating its bundle modules) is part of it.
 */
export function firstTaskMs(history: History): number {
  const events = history.events ?? [];
  const started = events.find((e) => e.workflowTaskStartedEventAttributes);
  const completed = events.find((e) => e.workflowTaskCompletedEventAttributes);
  return ms(completed?.eventTime as Ts) - ms(started?.eventTime as Ts);
}
