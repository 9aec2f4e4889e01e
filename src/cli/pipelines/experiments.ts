import { experimentBatchSchema, type ExperimentBatchResult, type ExperimentOutcome } from '../../shared/experiments/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import { experiments } from '../../client/index.js';
import { InvalidInputError } from '../../client/errors.js';
import { outcomeHeadline } from '../../shared/outcome.js';
import { renderResultTable } from '../progress-view.js';
import type { PipelineAdapter } from './adapter.js';
import { pendingStepLiveness, type PendingStepLiveness } from '../../client/step-liveness.js';
import { experimentBatchWorkflowId, experimentRunWorkflowId } from '../../shared/experiments/workflow-ids.js';
import { describeLiveness, silenceIsNotable } from '../../shared/step/liveness.js';

/** A running experiment with what its step's last heartbeat said. */
type Row = ExperimentOutcome & { step?: PendingStepLiveness };

/** "running 9m", "running 9m, no output for 2m", "stalled for 5m: ...", plus the attempt when retried. */
export function runningText(o: Row, now: number): string {
  const elapsedMs = Math.max(0, now - (o.startedAt ?? now));
  const s = o.step;
  const text =
    s && (silenceIsNotable(s) || (s.progressTimeoutMs !== null && s.silentMs >= s.progressTimeoutMs))
      ? describeLiveness({ ...s, elapsedMs })
      : `running ${Math.round(elapsedMs / 1000)}s`;
  if (!s || s.attempt <= 1) return text;
  return `${text} (attempt ${s.attempt}, after ${s.lastFailureType ?? (s.lastFailure ?? 'a failure').split('\n')[0]!.slice(0, 80)})`;
}

const pct = (v: unknown) => (typeof v === 'number' ? `${(v * 100).toFixed(1)}%` : '-');

/** Elapsed stops at the end of a step: a finished or cancelled experiment shows its own duration. */
function line(o: Row, now: number): string {
  const secs = (to: number) => Math.max(0, Math.round((to - (o.startedAt ?? to)) / 1000));
  switch (o.status) {
    case 'running':
      return runningText(o, now);
    case 'succeeded':
      return `done in ${secs(o.finishedAt ?? now)}s, accuracy ${pct(o.metrics?.accuracy)}`;
    case 'failed':
      return `failed after ${secs(o.finishedAt ?? now)}s: ${(o.error ?? '').split('\n').filter(Boolean).join(' | ')}`;
    case 'cancelled':
      return o.startedAt ? `cancelled after ${secs(o.finishedAt ?? now)}s` : 'cancelled';
    default:
      return o.status;
  }
}

export const experimentsCli: PipelineAdapter<unknown, ExperimentBatchResult, ExperimentOutcome[]> = {
  name: 'experiments',
  noun: 'batch',
  validate(raw) {
    const parsed = experimentBatchSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidInputError(`invalid experiment batch: ${describeIssues(parsed.error)}`);
    return { id: parsed.data.batchId, summary: `${parsed.data.experiments.length} experiments, batch ${parsed.data.batchId}`, input: raw };
  },
  start: (client, input, taskQueue) => experiments.start(client, input as never, { taskQueue }),
  get: (client, id) => experiments.get(client, id),
  async enrich(client, handle, p) {
    const batchId = handle.workflowId.slice(experimentBatchWorkflowId('').length);
    return Promise.all(
      p.map(async (o): Promise<Row> => {
        if (o.status !== 'running') return o;
        const [step] = await pendingStepLiveness(client, experimentRunWorkflowId(batchId, o.name));
        return step ? { ...o, step } : o;
      }),
    );
  },
  progressLines(p, now) {
    const width = Math.max(10, ...p.map((o) => o.name.length));
    return p.map((o) => `  ${o.name.padEnd(width)}  ${line(o, now)}`);
  },
  counts(p) {
    const running = p.filter((o) => o.status === 'running').map((o) => o.name);
    return {
      done: p.filter((o) => o.status === 'succeeded' || o.status === 'failed').length,
      total: p.length,
      failed: p.filter((o) => o.status === 'failed').length,
      detail: running.length ? `running: ${running.join(', ')}` : undefined,
    };
  },
  resultLines: (r) => [outcomeHeadline(r.status, r.succeeded, r.failed, 'experiments'), '', renderResultTable(r.experiments)],
  outcome: (r) => r.status,
};
