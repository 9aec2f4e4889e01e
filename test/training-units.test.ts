import { describe, expect, it } from 'vitest';
import { ProgressTracker } from '../src/activities/training/progress.js';
import { parseProgressLine, type ProgressEvent } from '../src/activities/training/protocol.js';
import { planRetention } from '../src/activities/training/retention.js';
import {
  parseTrainingJob,
  trainingQueueInputSchema,
  type CheckpointRef,
  type PendingJob,
  type TrainingProgress,
} from '../src/shared/training/schemas.js';
import * as q from '../src/shared/training/queue-state.js';

const baseJob = { jobId: 'j1', dataset: 'examples/experiments/data/iris.csv', steps: 300, evalInterval: 50, checkpointInterval: 100 };

function pending(jobId: string, instance = `${jobId}-i`): PendingJob {
  return {
    job: parseTrainingJob({ ...baseJob, jobId }),
    instance,
    enqueuedAt: '2025-01-01T00:00:00.000Z',
    resumeFrom: null,
    interruptions: 0,
  };
}

function progress(over: Partial<TrainingProgress>): TrainingProgress {
  return {
    jobId: 'a',
    instance: 'a-i',
    attempt: 1,
    step: 10,
    totalSteps: 300,
    trainLoss: 0.5,
    valLoss: null,
    valStep: null,
    gap: null,
    stepsPerSecond: null,
    etaSeconds: null,
    lastCheckpoint: null,
    bestCheckpoint: null,
    startStep: 0,
    resumedFrom: null,
    heartbeatAt: '2025-01-01T00:00:00.000Z',
    warnings: [],
    ...over,
  };
}

describe('training job config', () => {
  it('fills defaults, and requiredEvery defaults to evalInterval', () => {
    const job = parseTrainingJob(baseJob);
    expect(job.validation).toEqual({ requiredEvery: 50, onMissing: 'fail' });
    expect(job.retention).toEqual({ keepLast: 3, keepBest: true });
    expect(job.trainer.command).toBe('node');
    expect(job.validationFraction).toBe(0.2);
    // The effective config parses to itself: carried across continue-as-new without drift.
    expect(parseTrainingJob(job)).toEqual(job);
  });

  it('names every bad field', () => {
    const bad = { ...baseJob, jobId: '../x', steps: 0, evalInterval: 1.5, dataset: '/etc/passwd', retention: { keepLast: 0 }, surprise: 1 };
    let message = '';
    try {
      parseTrainingJob(bad);
    } catch (err) {
      message = (err as Error).message;
    }
    for (const field of ['job.jobId', 'job.steps', 'job.evalInterval', 'job.dataset', 'job.retention.keepLast'])
      expect(message).toContain(field);
    expect(message).toMatch(/surprise/);
  });

  it('refuses a validation requirement the eval interval can never meet', () => {
    expect(() => parseTrainingJob({ ...baseJob, validation: { requiredEvery: 20 } })).toThrow(
      /job\.validation\.requiredEvery: must be >= evalInterval \(50\)/,
    );
  });

  it('refuses a validation fraction of zero (val loss could never be reported)', () => {
    expect(() => parseTrainingJob({ ...baseJob, validationFraction: 0 })).toThrow(/job\.validationFraction/);
  });

  it('queue input: name required, defaults filled', () => {
    expect(trainingQueueInputSchema.safeParse({}).success).toBe(false);
    const cfg = trainingQueueInputSchema.parse({ queue: 'gpu-0' });
    expect(cfg.minFreeDiskBytes).toBe(1024 ** 3);
    expect(cfg.state).toBeUndefined();
  });
});

describe('training queue state machine', () => {
  it('enqueue refuses duplicate IDs (queued, running, reserved, recently finished) and a stopping queue', () => {
    const s = q.initialState('main');
    q.enqueue(s, pending('a'));
    expect(() => q.checkEnqueue(s, 'a')).toThrow(/jobId: a is already queued/);
    q.startNext(s, 't');
    expect(() => q.checkEnqueue(s, 'a')).toThrow(/jobId: a is running/);
    s.reserved.push('b');
    expect(() => q.checkEnqueue(s, 'b')).toThrow(/jobId: b is already queued/);
    q.finish(s, q.finishedOf(s.current!, 'completed', 't2'));
    expect(s.current).toBeNull();
    expect(() => q.checkEnqueue(s, 'a')).toThrow(/already ran in this queue \(completed/);
    expect(() => q.checkEnqueue(s, 'c')).not.toThrow();
    q.stop(s);
    expect(() => q.checkEnqueue(s, 'c')).toThrow(/stopping/);
  });

  it('pause/resume: validators refuse no-ops; pausing a running job asks it to stop at a checkpoint', () => {
    const s = q.initialState('main');
    expect(() => q.checkResume(s)).toThrow(/not paused/);
    q.enqueue(s, pending('a'));
    q.enqueue(s, pending('b'));
    q.startNext(s, 't');
    expect(q.pause(s, 'maintenance')).toBe(true);
    expect(s.current!.stopRequest).toBe('pause');
    expect(q.stage(s)).toBe('paused');
    expect(() => q.checkPause(s)).toThrow(/already paused: maintenance/);
    expect(() => q.checkResume(s)).toThrow(/still stopping job a/);
    const ckpt: CheckpointRef = { step: 100, path: '/x/step-100', valLoss: 0.3 };
    q.requeueCurrent(s, ckpt);
    expect(s.pending.map((p) => p.job.jobId)).toEqual(['a', 'b']);
    expect(s.pending[0]!.resumeFrom).toEqual(ckpt);
    expect(s.pending[0]!.interruptions).toBe(1);
    expect(s.pending[0]!.instance).toBe('a-i');
    expect(q.canStartNext(s)).toBe(false);
    q.checkResume(s);
    q.resume(s);
    expect(s.pauseReason).toBeNull();
    expect(q.canStartNext(s)).toBe(true);
    expect(q.startNext(s, 't').resumeFrom).toEqual(ckpt);
  });

  it('requeue keeps the newer of the reported and the earlier resume checkpoint', () => {
    const s = q.initialState('main');
    q.enqueue(s, { ...pending('a'), resumeFrom: { step: 200, path: '/p/200', valLoss: null } });
    q.startNext(s, 't');
    q.requeueCurrent(s, { step: 100, path: '/p/100', valLoss: null });
    expect(s.pending[0]!.resumeFrom!.step).toBe(200);
  });

  it('cancelCurrent needs a running job and is not repeated', () => {
    const s = q.initialState('main');
    expect(() => q.checkCancelCurrent(s)).toThrow(/no job is running/);
    q.enqueue(s, pending('a'));
    q.startNext(s, 't');
    q.checkCancelCurrent(s);
    q.cancelCurrent(s);
    expect(() => q.checkCancelCurrent(s)).toThrow(/already being stopped \(cancel\)/);
  });

  it('remove: only pending jobs, naming what is pending', () => {
    const s = q.initialState('main');
    q.enqueue(s, pending('a'));
    q.enqueue(s, pending('b'));
    q.enqueue(s, pending('c'));
    q.startNext(s, 't');
    expect(() => q.checkRemove(s, 'a')).toThrow(/jobId: a is running; use cancelCurrent/);
    expect(() => q.checkRemove(s, 'zzz')).toThrow(/jobId: no pending job zzz .*pending: b, c/);
    q.checkRemove(s, 'b');
    q.remove(s, 'b', 't');
    expect(s.pending.map((p) => p.job.jobId)).toEqual(['c']);
    expect(s.counts.removed).toBe(1);
    expect(s.current!.job.jobId).toBe('a');
  });

  it('stop: the main loop may not start another job', () => {
    const s = q.initialState('main');
    q.enqueue(s, pending('a'));
    q.checkStop(s);
    q.stop(s);
    expect(() => q.checkStop(s)).toThrow(/already stopping/);
    expect(() => q.checkPause(s)).toThrow(/stopping/);
    expect(q.canStartNext(s)).toBe(false);
  });

  it('progress: only for the running job, never from an older attempt', () => {
    const s = q.initialState('main');
    q.enqueue(s, pending('a'));
    expect(q.applyProgress(s, progress({}))).toBe(false);
    q.startNext(s, 't');
    expect(q.applyProgress(s, progress({ attempt: 2, step: 120 }))).toBe(true);
    expect(q.applyProgress(s, progress({ attempt: 1, step: 150 }))).toBe(false);
    expect(q.applyProgress(s, progress({ instance: 'other', attempt: 3 }))).toBe(false);
    expect(q.statusOf(s).current!.progress!.step).toBe(120);
    expect(q.renderDetails(s)).toContain('a: step 120/300');
  });

  it('continue-as-new carries the pending queue, its checkpoints and the pause; never mid-job', () => {
    const s = q.initialState('main');
    q.enqueue(s, pending('a'));
    q.enqueue(s, { ...pending('b'), resumeFrom: { step: 40, path: '/c/40', valLoss: 0.2 }, interruptions: 1 });
    q.pause(s, 'disk');
    s.counts.completed = 7;
    expect(q.readyToContinueAsNew(s, 100, 100, false)).toBe(true);
    expect(q.readyToContinueAsNew(s, 99, 100, false)).toBe(false);
    expect(q.readyToContinueAsNew(s, 10, 100, true)).toBe(true);
    const next = q.initialState('main', q.carry(s));
    expect(next.pending).toEqual(s.pending);
    expect(next.paused).toBe(true);
    expect(next.pauseReason).toBe('disk');
    expect(next.counts.completed).toBe(7);
    expect(next.run).toBe(2);
    q.resume(next);
    q.startNext(next, 't');
    expect(q.readyToContinueAsNew(next, 1000, 100, true)).toBe(false);
    next.current = null;
    next.reserved.push('x');
    expect(q.readyToContinueAsNew(next, 1000, 100, true)).toBe(false);
  });

  it('recent history is bounded', () => {
    const s = q.initialState('main');
    for (let i = 0; i < q.RECENT_LIMIT + 5; i++) q.finish(s, q.finishedOf(pending(`j${i}`), 'completed', 't'));
    expect(s.recent).toHaveLength(q.RECENT_LIMIT);
    expect(s.counts.completed).toBe(q.RECENT_LIMIT + 5);
    expect(q.carry(s).recent).toHaveLength(q.RECENT_LIMIT);
  });
});

describe('progress protocol', () => {
  it('parses the four events', () => {
    expect(parseProgressLine('{"event":"start","step":0,"total_steps":10,"resumed_from":null}')).toEqual({
      kind: 'event',
      event: { event: 'start', step: 0, total_steps: 10, resumed_from: null },
    });
    expect(parseProgressLine('{"event":"step","step":3,"loss":0.5}')).toMatchObject({ kind: 'event', event: { step: 3, loss: 0.5 } });
    expect(parseProgressLine('{"event":"eval","step":5,"val_loss":null,"reason":"empty"}')).toMatchObject({
      kind: 'event',
      event: { val_loss: null, reason: 'empty' },
    });
    expect(parseProgressLine('{"event":"checkpoint","step":5,"path":"/c/5"}')).toMatchObject({ kind: 'event', event: { path: '/c/5' } });
  });

  it('treats plain text and foreign JSON as log text, and names malformed events', () => {
    expect(parseProgressLine('epoch 3 loss=0.2')).toEqual({ kind: 'text' });
    expect(parseProgressLine('{"level":"info","msg":"hi"}')).toEqual({ kind: 'text' });
    expect(parseProgressLine('{not json')).toEqual({ kind: 'text' });
    const bad = parseProgressLine('{"event":"step","step":-1,"loss":"x"}');
    expect(bad.kind).toBe('invalid');
    expect((bad as { error: string }).error).toMatch(/malformed "step" event.*step.*loss/);
  });
});

describe('checkpoint retention', () => {
  const ck = (step: number, valLoss: number | null): CheckpointRef => ({ step, path: `/c/${step}`, valLoss });

  it('keeps the last K and the best by val loss, never more than K + 1', () => {
    const all = [ck(100, 0.9), ck(200, 0.2), ck(300, 0.5), ck(400, 0.6), ck(500, 0.7)];
    const plan = planRetention(all, 2, true);
    expect(plan.keep.map((c) => c.step)).toEqual([200, 400, 500]);
    expect(plan.remove.map((c) => c.step)).toEqual([100, 300]);
    expect(plan.best!.step).toBe(200);
    expect(planRetention(all, 2, false).keep.map((c) => c.step)).toEqual([400, 500]);
  });

  it('holds for any sequence of saves', () => {
    let kept: CheckpointRef[] = [];
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let step = 1; step <= 200; step++) {
      const plan = planRetention([...kept, ck(step, rand() < 0.2 ? null : rand())], 3, true);
      kept = plan.keep;
      expect(kept.length).toBeLessThanOrEqual(4);
      expect(kept.at(-1)!.step).toBe(step); // the newest (where a retry resumes) is always kept
    }
  });

  it('without any val loss there is no best: just the last K', () => {
    expect(planRetention([ck(1, null), ck(2, null), ck(3, null)], 1, true).keep.map((c) => c.step)).toEqual([3]);
  });
});

describe('progress tracker', () => {
  const ev = (e: ProgressEvent) => e;
  const make = (startStep = 0, requiredEvery = 50) => {
    let t = 0;
    const tracker = new ProgressTracker({
      jobId: 'j',
      instance: 'i',
      attempt: 1,
      totalSteps: 300,
      requiredEvery,
      startStep,
      resumedFrom: null,
      lastCheckpoint: null,
      bestCheckpoint: null,
      now: () => t,
    });
    return { tracker, tick: (ms: number) => (t += ms) };
  };

  it('reports step, losses, gap and ETA', () => {
    const { tracker, tick } = make();
    tracker.apply(ev({ event: 'start', step: 0, total_steps: 300 }));
    tick(10_000);
    tracker.apply(ev({ event: 'step', step: 100, loss: 0.4 }));
    tracker.apply(ev({ event: 'eval', step: 100, val_loss: 0.5 }));
    const p = tracker.snapshot();
    expect(p).toMatchObject({ step: 100, trainLoss: 0.4, valLoss: 0.5, valStep: 100, stepsPerSecond: 10, etaSeconds: 20 });
    expect(p.gap).toBeCloseTo(0.1);
  });

  it('flags validation missing for longer than allowed, once per gap', () => {
    const { tracker } = make(0, 50);
    expect(tracker.apply(ev({ event: 'step', step: 50, loss: 1 }))).toBeNull();
    expect(tracker.apply(ev({ event: 'eval', step: 50, val_loss: 0.9 }))).toBeNull();
    expect(tracker.apply(ev({ event: 'step', step: 100, loss: 1 }))).toBeNull();
    expect(tracker.apply(ev({ event: 'eval', step: 100, val_loss: null, reason: 'validation set is empty' }))).toBeNull();
    const msg = tracker.apply(ev({ event: 'step', step: 110, loss: 1 }));
    expect(msg).toMatch(/no validation loss since step 50 \(now step 110; required every 50 steps\); last reason: validation set is empty/);
    expect(tracker.apply(ev({ event: 'step', step: 120, loss: 1 }))).toBeNull();
    expect(tracker.apply(ev({ event: 'step', step: 161, loss: 1 }))).toMatch(/now step 161/);
  });

  it('a resumed attempt counts the gap from its start step', () => {
    const { tracker } = make(200, 50);
    expect(tracker.apply(ev({ event: 'step', step: 240, loss: 1 }))).toBeNull();
    expect(tracker.apply(ev({ event: 'step', step: 260, loss: 1 }))).toMatch(/since this attempt started at step 200/);
  });

  it('a job that ends without any val loss is flagged', () => {
    const { tracker } = make();
    tracker.apply(ev({ event: 'step', step: 10, loss: 1 }));
    expect(tracker.finalCheck(null)).toMatch(/finished at step 10 without reporting any validation loss/);
    expect(tracker.finalCheck(0.3)).toBeNull();
  });
});
