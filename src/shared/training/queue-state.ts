import type { CarriedState, CheckpointRef, FinishedJob, PendingJob, TrainingJob, TrainingProgress } from './schemas.js';

// The training queue's state machine, kept free of Temporal calls so every rule (what each
// update may do, what continue-as-new carries) is a plain function with unit tests. The
// workflow wires it to updates, the signal and the activities. `check*` functions throw an
// Error whose message is what the caller sees when an update validator rejects the request;
// they never change the state.

export const RECENT_LIMIT = 50;

export interface CurrentJob extends PendingJob {
  startedAt: string;
  progress: TrainingProgress | null;
  /** Set by pause / cancelCurrent while the job runs: how to treat its cancellation. */
  stopRequest: 'pause' | 'cancel' | null;
}

export interface QueueState extends CarriedState {
  queue: string;
  stopping: boolean;
  current: CurrentJob | null;
  /** Job IDs whose enqueue is past the validator and awaiting its path check. */
  reserved: string[];
}

export type Stage = 'training' | 'paused' | 'stopping' | 'idle';

export function initialState(queue: string, carried?: CarriedState): QueueState {
  return {
    queue,
    pending: carried?.pending.map((p) => ({ ...p })) ?? [],
    paused: carried?.paused ?? false,
    pauseReason: carried?.pauseReason ?? null,
    recent: carried?.recent.map((r) => ({ ...r })) ?? [],
    counts: { ...(carried?.counts ?? { completed: 0, failed: 0, cancelled: 0, removed: 0 }) },
    run: carried?.run ?? 1,
    stopping: false,
    current: null,
    reserved: [],
  };
}

function describeIds(jobs: { job: TrainingJob }[]): string {
  if (jobs.length === 0) return 'none';
  const ids = jobs.slice(0, 20).map((p) => p.job.jobId);
  return ids.join(', ') + (jobs.length > 20 ? `, … (${jobs.length} in all)` : '');
}

export function checkEnqueue(state: QueueState, jobId: string): void {
  if (state.stopping) throw new Error(`queue ${state.queue} is stopping: it accepts no new jobs`);
  if (state.current?.job.jobId === jobId) throw new Error(`jobId: ${jobId} is running now; give the new job another jobId`);
  if (state.pending.some((p) => p.job.jobId === jobId) || state.reserved.includes(jobId)) {
    throw new Error(`jobId: ${jobId} is already queued; give the new job another jobId`);
  }
  const earlier = state.recent.find((r) => r.jobId === jobId);
  if (earlier)
    throw new Error(
      `jobId: ${jobId} already ran in this queue (${earlier.status} at ${earlier.finishedAt}); give the new job another jobId`,
    );
}

export function checkPause(state: QueueState): void {
  if (state.stopping) throw new Error(`queue ${state.queue} is stopping: it finishes the current job and ends`);
  if (state.paused) throw new Error(`queue ${state.queue} is already paused${state.pauseReason ? `: ${state.pauseReason}` : ''}`);
}

export function checkResume(state: QueueState): void {
  if (!state.paused) throw new Error(`queue ${state.queue} is not paused`);
  if (state.current)
    throw new Error(`queue ${state.queue} is still stopping job ${state.current.job.jobId} at its checkpoint; resume once it has stopped`);
}

export function checkStop(state: QueueState): void {
  if (state.stopping) throw new Error(`queue ${state.queue} is already stopping`);
}

export function checkCancelCurrent(state: QueueState): void {
  if (!state.current) throw new Error(`no job is running in queue ${state.queue}`);
  if (state.current.stopRequest) throw new Error(`job ${state.current.job.jobId} is already being stopped (${state.current.stopRequest})`);
}

export function checkRemove(state: QueueState, jobId: string): void {
  if (state.current?.job.jobId === jobId) throw new Error(`jobId: ${jobId} is running; use cancelCurrent to stop it`);
  if (!state.pending.some((p) => p.job.jobId === jobId)) {
    throw new Error(`jobId: no pending job ${jobId} in queue ${state.queue} (pending: ${describeIds(state.pending)})`);
  }
}

/** Appends a validated job; returns its 1-based position among pending jobs. */
export function enqueue(state: QueueState, entry: PendingJob): number {
  state.pending.push(entry);
  return state.pending.length;
}

/** Pauses; returns true when a running job must be stopped at a checkpoint. */
export function pause(state: QueueState, reason: string): boolean {
  state.paused = true;
  state.pauseReason = reason;
  if (state.current && !state.current.stopRequest) {
    state.current.stopRequest = 'pause';
    return true;
  }
  return false;
}

export function resume(state: QueueState): void {
  state.paused = false;
  state.pauseReason = null;
}

export function stop(state: QueueState): void {
  state.stopping = true;
}

export function cancelCurrent(state: QueueState): void {
  if (state.current) state.current.stopRequest = 'cancel';
}

export function remove(state: QueueState, jobId: string, finishedAt: string): PendingJob {
  const i = state.pending.findIndex((p) => p.job.jobId === jobId);
  const [entry] = state.pending.splice(i, 1);
  finish(state, { ...finishedOf(entry!, 'removed', finishedAt) });
  return entry!;
}

export function finishedOf(entry: PendingJob, status: FinishedJob['status'], finishedAt: string): FinishedJob {
  return {
    jobId: entry.job.jobId,
    instance: entry.instance,
    status,
    finishedAt,
    step: null,
    trainLoss: null,
    valLoss: null,
    bestCheckpoint: null,
    error: null,
    warnings: [],
  };
}

/** Whether the main loop may start the next job. */
export function canStartNext(state: QueueState): boolean {
  return !state.current && !state.paused && !state.stopping && state.pending.length > 0;
}

export function startNext(state: QueueState, startedAt: string): CurrentJob {
  const entry = state.pending.shift();
  if (!entry) throw new Error('startNext called with an empty queue');
  state.current = { ...entry, startedAt, progress: null, stopRequest: null };
  return state.current;
}

/** Puts the current job back at the head of the queue, to continue from `resumeFrom`. */
export function requeueCurrent(state: QueueState, resumeFrom: CheckpointRef | null): void {
  const cur = state.current;
  if (!cur) return;
  state.pending.unshift({
    job: cur.job,
    instance: cur.instance,
    enqueuedAt: cur.enqueuedAt,
    resumeFrom: newerCheckpoint(resumeFrom, cur.resumeFrom),
    interruptions: cur.interruptions + 1,
  });
  state.current = null;
}

export function newerCheckpoint(a: CheckpointRef | null | undefined, b: CheckpointRef | null | undefined): CheckpointRef | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return a.step >= b.step ? a : b;
}

export function finish(state: QueueState, done: FinishedJob): void {
  if (state.current?.instance === done.instance) state.current = null;
  state.recent.push(done);
  if (state.recent.length > RECENT_LIMIT) state.recent.splice(0, state.recent.length - RECENT_LIMIT);
  state.counts[done.status]++;
}

/**
 * Accepts progress for the running job only, and never from an older attempt than the one
 * already seen (a late signal from a timed-out attempt must not overwrite its successor's).
 */
export function applyProgress(state: QueueState, p: TrainingProgress): boolean {
  const cur = state.current;
  if (!cur || cur.instance !== p.instance || cur.job.jobId !== p.jobId) return false;
  if (cur.progress && p.attempt < cur.progress.attempt) return false;
  cur.progress = p;
  return true;
}

export function stage(state: QueueState): Stage {
  if (state.stopping) return 'stopping';
  if (state.paused) return 'paused';
  return state.current ? 'training' : 'idle';
}

/** Continue-as-new only between jobs and with no enqueue half-way through. */
export function readyToContinueAsNew(state: QueueState, historyLength: number, maxHistoryEvents: number, suggested: boolean): boolean {
  return !state.current && !state.stopping && state.reserved.length === 0 && (suggested || historyLength >= maxHistoryEvents);
}

export function carry(state: QueueState): CarriedState {
  return {
    pending: state.pending.map((p) => ({ ...p })),
    paused: state.paused,
    pauseReason: state.pauseReason,
    recent: state.recent.slice(-RECENT_LIMIT),
    counts: { ...state.counts },
    run: state.run + 1,
  };
}

export interface QueueStatus {
  queue: string;
  stage: Stage;
  paused: boolean;
  pauseReason: string | null;
  stopping: boolean;
  current: null | {
    jobId: string;
    instance: string;
    startedAt: string;
    stopRequest: CurrentJob['stopRequest'];
    resumeFrom: CheckpointRef | null;
    config: TrainingJob;
    /** The activity's latest report, with its heartbeat time named for what the query shows. */
    progress: null | (Omit<TrainingProgress, 'jobId' | 'instance' | 'valStep' | 'heartbeatAt'> & { lastHeartbeatAt: string });
  };
  pending: { jobId: string; enqueuedAt: string; steps: number; resumeFrom: CheckpointRef | null }[];
  recent: FinishedJob[];
  counts: QueueState['counts'];
  run: number;
}

export function statusOf(state: QueueState): QueueStatus {
  const cur = state.current;
  const p = cur?.progress;
  return {
    queue: state.queue,
    stage: stage(state),
    paused: state.paused,
    pauseReason: state.pauseReason,
    stopping: state.stopping,
    current: cur
      ? {
          jobId: cur.job.jobId,
          instance: cur.instance,
          startedAt: cur.startedAt,
          stopRequest: cur.stopRequest,
          resumeFrom: cur.resumeFrom,
          config: cur.job,
          progress: p
            ? {
                attempt: p.attempt,
                step: p.step,
                totalSteps: p.totalSteps,
                trainLoss: p.trainLoss,
                valLoss: p.valLoss,
                gap: p.gap,
                etaSeconds: p.etaSeconds,
                stepsPerSecond: p.stepsPerSecond,
                lastCheckpoint: p.lastCheckpoint,
                bestCheckpoint: p.bestCheckpoint,
                lastHeartbeatAt: p.heartbeatAt,
                startStep: p.startStep,
                resumedFrom: p.resumedFrom,
                warnings: p.warnings,
                ...(p.liveness ? { liveness: p.liveness } : {}),
              }
            : null,
        }
      : null,
    pending: state.pending.map((e) => ({ jobId: e.job.jobId, enqueuedAt: e.enqueuedAt, steps: e.job.steps, resumeFrom: e.resumeFrom })),
    recent: state.recent.slice(-10),
    counts: { ...state.counts },
    run: state.run,
  };
}

const fmt = (v: number | null | undefined, digits = 4) => (v === null || v === undefined ? 'n/a' : String(Number(v.toFixed(digits))));

function eta(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  const s = Math.round(seconds);
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/** Markdown for the Web UI's "current details": state, reason, progress, what is next. */
export function renderDetails(state: QueueState): string {
  const lines = [`**Training queue ${state.queue}**: ${stage(state)}${state.pauseReason ? ` (${state.pauseReason})` : ''}`];
  const cur = state.current;
  if (cur) {
    const p = cur.progress;
    lines.push(
      p
        ? `- ${cur.job.jobId}: step ${p.step}/${p.totalSteps}, train loss ${fmt(p.trainLoss)}, val loss ${fmt(p.valLoss)}, gap ${fmt(p.gap)}, ETA ${eta(p.etaSeconds)}, checkpoint ${p.lastCheckpoint ? `step ${p.lastCheckpoint.step}` : 'none'}, attempt ${p.attempt}, heartbeat ${p.heartbeatAt}`
        : `- ${cur.job.jobId}: starting${cur.resumeFrom ? ` from checkpoint step ${cur.resumeFrom.step}` : ''}`,
    );
    if (cur.stopRequest) lines.push(`- stopping ${cur.job.jobId} (${cur.stopRequest})`);
    for (const w of p?.warnings.slice(-3) ?? []) lines.push(`- warning: ${w}`);
  }
  lines.push(`- pending (${state.pending.length}): ${describeIds(state.pending)}`);
  const c = state.counts;
  lines.push(`- done: ${c.completed} completed, ${c.failed} failed, ${c.cancelled} cancelled, ${c.removed} removed (run ${state.run})`);
  return lines.join('\n');
}
