import { PIPELINE_ID, STAGE, TARGET } from '../shared/search-attributes.js';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { livenessOfPending, silenceLine } from '../client/step-liveness.js';

// What the dashboard reads from Temporal: workflow executions from visibility (kind, state,
// search attributes) and, for running ones, their pending activities from describe, to tell
// slow steps (heartbeating, just long) from stuck ones (heartbeat age near its timeout).

export const PIPELINE_TYPES = [
  'experimentBatch',
  'experimentRun',
  'simulationJob',
  'parameterSweep',
  'trainingQueue',
  'conversationBatch',
  'conversationRun',
  'analysisPipeline',
  'appAnalysis',
];

export interface PipelineExecution {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  pipelineId: string | null;
  target: string | null;
  stage: string | null;
  startTime: string;
  closeTime: string | null;
}

function toExecution(w: WorkflowExecutionInfo): PipelineExecution {
  const sa = w.typedSearchAttributes;
  return {
    workflowId: w.workflowId,
    runId: w.runId,
    type: w.type,
    status: w.status.name,
    pipelineId: sa.get(PIPELINE_ID) ?? null,
    target: sa.get(TARGET) ?? null,
    stage: sa.get(STAGE) ?? null,
    startTime: w.startTime.toISOString(),
    closeTime: w.closeTime?.toISOString() ?? null,
  };
}

/** Recent pipeline executions (newest first), at most `limit`. */
export async function listExecutions(client: Client, opts: { limit?: number; query?: string } = {}): Promise<PipelineExecution[]> {
  const limit = opts.limit ?? 500;
  const types = PIPELINE_TYPES.map((t) => `'${t}'`).join(', ');
  const query = opts.query ?? `WorkflowType IN (${types})`;
  const out: PipelineExecution[] = [];
  for await (const w of client.workflow.list({ query, pageSize: Math.min(limit, 200) })) {
    out.push(toExecution(w));
    if (out.length >= limit) break;
  }
  return out;
}

export interface PendingStep {
  workflowId: string;
  runId: string;
  workflowType: string;
  activityType: string;
  activityId: string;
  state: string;
  attempt: number;
  heartbeatAgeMs: number | null;
  heartbeatTimeoutMs: number | null;
  runningForMs: number | null;
  /** heartbeat age / heartbeat timeout: near 1 means about to time out as stuck. */
  ratio: number | null;
  verdict: 'ok' | 'slow' | 'stuck' | 'retrying';
  /**
   * What the step's own heartbeat says of its program: "no output for 2m (progressTimeout 5m)",
   * "stalled for 5m: ...", "replicate 17: no output for 2m"; null when nothing notable. A hung
   * program still heartbeats on time (the worker does), so the verdict alone cannot show it.
   */
  liveness: string | null;
  lastFailure: string | null;
}

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number | null =>
  t && t.seconds != null ? Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : null;

const STATE_NAMES: Record<number, string> = { 1: 'scheduled', 2: 'started', 3: 'cancel requested', 4: 'paused', 5: 'pause requested' };

/**
 * Heartbeats are due every timeout/3 (the project's convention): one missed beat is slow, half
 * the timeout without one is about to be declared stuck. A step without a heartbeat timeout is
 * slow once it has used 80% of its start-to-close timeout.
 */
export function verdictOf(
  ratio: number | null,
  attempt: number,
  runningForMs: number | null,
  startToCloseMs: number | null,
): PendingStep['verdict'] {
  if (ratio !== null && ratio >= 0.5) return 'stuck';
  if (ratio !== null && ratio >= 1 / 3) return 'slow';
  if (ratio === null && runningForMs !== null && startToCloseMs && runningForMs > 0.8 * startToCloseMs) return 'slow';
  return attempt > 1 ? 'retrying' : 'ok';
}

/** Pending activities of running executions (describe per workflow; bounded by `max`). */
export async function pendingSteps(client: Client, running: PipelineExecution[], now = Date.now(), max = 40): Promise<PendingStep[]> {
  const out: PendingStep[] = [];
  await Promise.all(
    running.slice(0, max).map(async (w) => {
      let desc;
      try {
        desc = await client.workflow.getHandle(w.workflowId, w.runId).describe();
      } catch {
        return; // closed in between
      }
      for (const a of desc.raw.pendingActivities ?? []) {
        const last = ms(a.lastHeartbeatTime) ?? ms(a.lastStartedTime);
        const started = ms(a.lastStartedTime);
        const timeout = ms(a.activityOptions?.heartbeatTimeout as never);
        const age = last === null ? null : Math.max(0, now - last);
        const ratio = age !== null && timeout ? age / timeout : null;
        const attempt = a.attempt ?? 1;
        const startToClose = ms(a.activityOptions?.startToCloseTimeout as never);
        const runningFor = started === null ? null : Math.max(0, now - started);
        const verdict = verdictOf(ratio, attempt, runningFor, startToClose);
        const live = await livenessOfPending(client, a);
        out.push({
          workflowId: w.workflowId,
          runId: w.runId,
          workflowType: w.type,
          activityType: a.activityType?.name ?? '?',
          activityId: a.activityId ?? '?',
          state: STATE_NAMES[a.state ?? 0] ?? 'unknown',
          attempt,
          heartbeatAgeMs: age,
          heartbeatTimeoutMs: timeout,
          runningForMs: runningFor,
          ratio,
          verdict,
          liveness: live && silenceLine(live),
          lastFailure: a.lastFailure?.message ?? null,
        });
      }
    }),
  );
  return out.sort((a, b) => (b.ratio ?? 0) - (a.ratio ?? 0));
}

/** The Temporal Web UI's page for one execution. */
export function webUiLink(uiUrl: string | undefined, namespace: string, workflowId: string, runId?: string): string | null {
  if (!uiUrl) return null;
  return `${uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${encodeURIComponent(runId)}` : ''}`;
}
