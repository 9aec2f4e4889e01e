import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import {
  parseTrainingJob,
  trainingQueueInputSchema,
  trainingQueueWorkflowId,
  type FinishedJob,
  type TrainingJob,
  type TrainModelResult,
} from '../../shared/training/schemas.js';
import {
  cancelCurrentUpdate,
  enqueueUpdate,
  pauseUpdate,
  progressSignal,
  removeUpdate,
  resumeUpdate,
  statusQuery,
  stopUpdate,
  trainingProgressQuery,
  type EnqueueResult,
} from '../../shared/training/messages.js';
import * as q from '../../shared/training/queue-state.js';
import { parseInput } from '../validate-input.js';
import { NON_RETRYABLE } from '../../shared/failure-types.js';
import { rootMessage } from '../../shared/failure-message.js';

// trainingQueue: the seed's training daemon, minus the daemon. One long-running workflow per
// queue name (its ID is derived from the name); jobs arrive by update and run one at a time as
// heartbeating trainModel activities. Control is by update (each with a validator, so a bad
// request is refused to its caller instead of being absorbed), state is read by query, and the
// history stays bounded by continuing as new between jobs with the pending queue and the pause
// carried over. Nothing here can die and leave a trainer unmanaged: a worker's death takes its
// trainer with it, and the retry resumes from the newest checkpoint.

export {
  cancelCurrentUpdate,
  enqueueUpdate,
  pauseUpdate,
  progressSignal,
  removeUpdate,
  resumeUpdate,
  statusQuery,
  stopUpdate,
  trainingProgressQuery,
};
export type { EnqueueResult };

export interface TrainingQueueResult {
  queue: string;
  status: 'stopped';
  counts: q.QueueState['counts'];
  recent: FinishedJob[];
  /** Jobs still queued when the queue stopped; enqueue them elsewhere to run them. */
  notRun: TrainingJob[];
}

const { recordTrainingJob } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: [...NON_RETRYABLE.trainingRecord] },
});
// The webhook is best effort: a few tries, then the queue carries on.
const { notifyWebhook } = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '2s' },
});
// Filesystem checks the synchronous validator cannot do, on the worker running this queue.
const { validateTrainingJob } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '500ms', nonRetryableErrorTypes: [...NON_RETRYABLE.trainingLocal] },
});

function jobIdOf(arg: unknown): string {
  const id = typeof arg === 'string' ? arg : (arg as { jobId?: unknown } | undefined)?.jobId;
  if (typeof id !== 'string' || id === '') throw new Error('jobId: expected a job ID (a string, or {"jobId": "..."})');
  return id;
}

/** A pause or cancel that arrived while the job's start was being recorded. */
class CancelledBeforeStart extends Error {
  name = 'CancelledBeforeStart';
}

const nowIso = () => new Date(Date.now()).toISOString();
const num = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : String(Number(v.toFixed(4))));

export async function trainingQueue(rawInput: unknown): Promise<TrainingQueueResult> {
  const config = parseInput(trainingQueueInputSchema, rawInput);
  const expectedId = trainingQueueWorkflowId(config.queue);
  if (workflowInfo().workflowId !== expectedId) {
    throw ApplicationFailure.nonRetryable(
      `workflowId: training queue "${config.queue}" must run as workflow ID "${expectedId}" (one workflow per queue name); it was started as "${workflowInfo().workflowId}"`,
      'InvalidInput',
    );
  }
  const state = q.initialState(config.queue, config.state);
  const { workflowId } = workflowInfo();
  let jobScope: CancellationScope | undefined;

  // Web UI: search attributes change only with the stage (each change is a history event);
  // the details markdown follows every progress report.
  let shownStage: string | undefined;
  let shownTarget: string | undefined;
  const refresh = () => {
    const stage = q.stage(state);
    const target = state.current?.job.jobId ?? '';
    if (stage !== shownStage || target !== shownTarget) {
      upsertSearchAttributes({
        PipelineKind: ['trainingQueue'],
        PipelineId: [config.queue],
        Stage: [stage],
        Target: target ? [target] : [],
      });
      upsertMemo({ queue: config.queue, pauseReason: state.pauseReason, currentJob: state.current?.job ?? null });
      shownStage = stage;
      shownTarget = target;
    }
    setCurrentDetails(q.renderDetails(state));
  };

  const record = (
    entry: q.CurrentJob | { job: TrainingJob; instance: string },
    status: 'running' | 'paused' | 'completed' | 'failed' | 'cancelled' | 'removed',
    extra: Partial<Parameters<typeof recordTrainingJob>[0]> = {},
  ) =>
    recordTrainingJob({
      queue: config.queue,
      jobId: entry.job.jobId,
      instance: entry.instance,
      status,
      config: entry.job,
      workflowId,
      runId: workflowInfo().runId,
      at: nowIso(),
      ...extra,
    });

  const notify = async (title: string, text: string, row: Record<string, unknown>) => {
    if (!config.notify) return;
    try {
      await notifyWebhook({ title, text, table: { rows: [row] } });
    } catch {
      // best effort: already retried; the result row and the history have it all
    }
  };

  const stopCurrentJob = () => {
    jobScope?.cancel();
  };

  setHandler(trainingProgressQuery, () => q.statusOf(state));
  setHandler(statusQuery, () => q.statusOf(state));
  setHandler(progressSignal, (p) => {
    if (q.applyProgress(state, p)) refresh();
  });

  setHandler(
    enqueueUpdate,
    async (raw) => {
      const job = parseTrainingJob(raw);
      // The validator ran against the state of its moment; check again, then hold the ID while
      // the paths are checked, so two concurrent enqueues of one ID cannot both get in.
      try {
        q.checkEnqueue(state, job.jobId);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, 'InvalidJob');
      }
      state.reserved.push(job.jobId);
      try {
        await validateTrainingJob({ job });
      } catch (err) {
        throw ApplicationFailure.nonRetryable(rootMessage(err), 'InvalidJob');
      } finally {
        state.reserved.splice(state.reserved.indexOf(job.jobId), 1);
      }
      const instance = uuid4();
      const position = q.enqueue(state, { job, instance, enqueuedAt: nowIso(), resumeFrom: null, interruptions: 0 });
      refresh();
      return { jobId: job.jobId, instance, position, effectiveConfig: job };
    },
    {
      validator: (raw) => {
        const job = parseTrainingJob(raw);
        q.checkEnqueue(state, job.jobId);
      },
    },
  );

  setHandler(
    pauseUpdate,
    (arg) => {
      if (q.pause(state, arg?.reason?.trim() || 'paused by request')) stopCurrentJob();
      refresh();
      return q.statusOf(state);
    },
    {
      validator: (arg) => {
        if (
          arg !== undefined &&
          arg !== null &&
          (typeof arg !== 'object' || (arg.reason !== undefined && typeof arg.reason !== 'string'))
        ) {
          throw new Error('reason: expected {"reason": "<text>"} or no argument');
        }
        q.checkPause(state);
      },
    },
  );

  setHandler(
    resumeUpdate,
    () => {
      q.resume(state);
      refresh();
      return q.statusOf(state);
    },
    { validator: () => q.checkResume(state) },
  );

  setHandler(
    stopUpdate,
    () => {
      q.stop(state);
      refresh();
      return q.statusOf(state);
    },
    { validator: () => q.checkStop(state) },
  );

  setHandler(
    cancelCurrentUpdate,
    () => {
      q.cancelCurrent(state);
      stopCurrentJob();
      refresh();
      return q.statusOf(state);
    },
    { validator: () => q.checkCancelCurrent(state) },
  );

  setHandler(
    removeUpdate,
    async (arg) => {
      const jobId = jobIdOf(arg);
      q.checkRemove(state, jobId);
      const entry = q.remove(state, jobId, nowIso());
      refresh();
      await record(entry, 'removed', { reason: 'removed from the queue by request' });
      return q.statusOf(state);
    },
    { validator: (arg) => q.checkRemove(state, jobIdOf(arg)) },
  );

  async function runJob(cur: q.CurrentJob): Promise<void> {
    const { job } = cur;
    refresh();
    await record(cur, 'running');
    const { trainModel } = proxyActivities<Activities>({
      startToCloseTimeout: job.timeout,
      heartbeatTimeout: job.heartbeatTimeout,
      retry: { ...job.retry, nonRetryableErrorTypes: [...NON_RETRYABLE.trainModel] },
      // A paused or cancelled job's trainer must be gone (and its last checkpoint known) before the next job starts.
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      summary: `train ${job.jobId}`,
    });

    let result: TrainModelResult | undefined;
    let error: unknown;
    jobScope = new CancellationScope();
    try {
      if (cur.stopRequest) throw new CancelledBeforeStart();
      result = await jobScope.run(() =>
        trainModel({
          queue: config.queue,
          job,
          instance: cur.instance,
          resumeFrom: cur.resumeFrom,
          minFreeDiskBytes: config.minFreeDiskBytes,
          progressIntervalMs: config.progressIntervalMs,
        }),
      );
    } catch (err) {
      error = err;
    } finally {
      jobScope = undefined;
    }

    const cancelled = error !== undefined && (isCancellation(error) || error instanceof CancelledBeforeStart);
    if (cancelled && !cur.stopRequest) {
      // The queue itself is being cancelled.
      await CancellationScope.nonCancellable(() => record(cur, 'cancelled', { reason: 'the training queue was cancelled' }));
      throw error;
    }

    await CancellationScope.nonCancellable(async () => {
      if (result?.status === 'paused' || (cancelled && cur.stopRequest === 'pause')) {
        const reason = result?.reason ?? state.pauseReason ?? 'paused';
        const resumeFrom = q.newerCheckpoint(result?.lastCheckpoint, cur.progress?.lastCheckpoint);
        q.requeueCurrent(state, resumeFrom);
        if (result?.status === 'paused') q.pause(state, reason);
        refresh();
        await record(cur, 'paused', { reason, lastCheckpoint: resumeFrom, warnings: result?.warnings ?? cur.progress?.warnings ?? [] });
        if (result?.status === 'paused') {
          await notify(
            `Training queue ${config.queue} paused`,
            `Job ${job.jobId} stopped at step ${result.step}/${job.steps} and queue ${config.queue} paused: ${reason}`,
            {
              job: job.jobId,
              step: result.step,
              checkpoint: resumeFrom?.path,
              reason,
            },
          );
        }
        return;
      }

      const finishedAt = nowIso();
      const p = cur.progress;
      let done: FinishedJob;
      if (result) {
        done = {
          ...q.finishedOf(cur, 'completed', finishedAt),
          step: result.step,
          trainLoss: result.trainLoss,
          valLoss: result.valLoss,
          bestCheckpoint: result.bestCheckpoint,
          warnings: result.warnings,
        };
      } else {
        const status = cancelled ? 'cancelled' : 'failed';
        done = {
          ...q.finishedOf(cur, status, finishedAt),
          step: p?.step ?? null,
          trainLoss: p?.trainLoss ?? null,
          valLoss: p?.valLoss ?? null,
          bestCheckpoint: p?.bestCheckpoint ?? null,
          error: cancelled ? 'cancelled by request' : rootMessage(error),
          warnings: p?.warnings ?? [],
        };
      }
      q.finish(state, done);
      refresh();
      await record(cur, done.status, {
        metrics: result
          ? {
              ...result.metrics,
              step: result.step,
              trainLoss: result.trainLoss,
              valLoss: result.valLoss,
              gap: result.gap,
              durationMs: result.durationMs,
              retained: result.retained,
              ...(result.longestSilenceMs === undefined ? {} : { longestSilenceMs: result.longestSilenceMs }),
            }
          : p
            ? { step: p.step, trainLoss: p.trainLoss, valLoss: p.valLoss, gap: p.gap }
            : null,
        error: done.error,
        warnings: done.warnings,
        lastCheckpoint: result?.lastCheckpoint ?? p?.lastCheckpoint ?? null,
        bestCheckpoint: done.bestCheckpoint,
        attempt: result?.attempt ?? p?.attempt ?? null,
      });
      const gap = result?.gap ?? p?.gap ?? null;
      await notify(
        `Training job ${job.jobId}: ${done.status}`,
        `Job ${job.jobId} in queue ${config.queue} ${done.status} at step ${done.step ?? 0}/${job.steps}: train loss ${num(done.trainLoss)}, val loss ${num(done.valLoss)}, gap ${num(gap)}` +
          (done.error ? `. Error: ${done.error}` : '') +
          (done.warnings.length ? `. Warnings: ${done.warnings.slice(-3).join(' | ')}` : ''),
        {
          job: job.jobId,
          status: done.status,
          step: done.step,
          trainLoss: done.trainLoss,
          valLoss: done.valLoss,
          gap,
          best: done.bestCheckpoint ? `step ${done.bestCheckpoint.step} (${num(done.bestCheckpoint.valLoss)})` : undefined,
          error: done.error ?? undefined,
        },
      );
    });
  }

  const canContinueAsNew = () => {
    const info = workflowInfo();
    return q.readyToContinueAsNew(state, info.historyLength, config.maxHistoryEvents, info.continueAsNewSuggested);
  };

  refresh();
  for (;;) {
    await condition(() => (state.stopping && !state.current) || q.canStartNext(state) || canContinueAsNew());
    if (state.stopping) break;
    if (canContinueAsNew()) {
      await condition(allHandlersFinished);
      if (canContinueAsNew()) {
        await continueAsNew<typeof trainingQueue>({
          queue: config.queue,
          minFreeDiskBytes: config.minFreeDiskBytes,
          progressIntervalMs: config.progressIntervalMs,
          maxHistoryEvents: config.maxHistoryEvents,
          notify: config.notify,
          state: q.carry(state),
        });
      }
      continue;
    }
    await runJob(q.startNext(state, nowIso()));
  }

  await condition(allHandlersFinished);
  refresh();
  return {
    queue: config.queue,
    status: 'stopped',
    counts: { ...state.counts },
    recent: state.recent.slice(-10),
    notRun: state.pending.map((p) => p.job),
  };
}
