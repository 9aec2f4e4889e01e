import type { CheckpointRef, TrainingLiveness, TrainingProgress } from '../../shared/training/schemas.js';
import type { ProgressEvent } from './protocol.js';

// Folds the trainer's events into the progress a job reports (heartbeat details, progress
// signal, query) and enforces "val loss at least every N steps". Pure apart from the clock it
// is given, so the validation rule is tested without running a trainer.

export const MAX_WARNINGS = 20;

export interface TrackerOptions {
  jobId: string;
  instance: string;
  attempt: number;
  totalSteps: number;
  /** Val loss must be reported at least every this many steps. */
  requiredEvery: number;
  /** Step the attempt starts from (the resumed checkpoint's step, else 0). */
  startStep: number;
  resumedFrom: string | null;
  lastCheckpoint: CheckpointRef | null;
  bestCheckpoint: CheckpointRef | null;
  now: () => number;
}

export class ProgressTracker {
  private step: number;
  private totalSteps: number;
  private trainLoss: number | null = null;
  private valLoss: number | null = null;
  private valStep: number | null = null;
  /** Step from which the current validation gap is counted. */
  private gapFrom: number;
  private lastMissingReason: string | null = null;
  private startedAt: number;
  private warnings: string[] = [];
  lastCheckpoint: CheckpointRef | null;
  bestCheckpoint: CheckpointRef | null;
  /** Step of the last eval event (with or without a value) and its value, for checkpoints that do not carry one. */
  lastEval: { step: number; valLoss: number | null } | null = null;
  /** Set by the activity from the step machinery's samples while the trainer runs. */
  liveness: TrainingLiveness | null = null;

  constructor(private readonly opts: TrackerOptions) {
    this.step = opts.startStep;
    this.gapFrom = opts.startStep;
    this.totalSteps = opts.totalSteps;
    this.lastCheckpoint = opts.lastCheckpoint;
    this.bestCheckpoint = opts.bestCheckpoint;
    this.startedAt = opts.now();
  }

  /**
   * Applies one event. Returns a message when validation has now been missing for longer than
   * allowed (once per gap: the next message comes after another `requiredEvery` steps).
   */
  apply(e: ProgressEvent): string | null {
    switch (e.event) {
      case 'start':
        this.totalSteps = e.total_steps;
        this.step = e.step;
        return null;
      case 'step':
        this.step = Math.max(this.step, e.step);
        this.trainLoss = e.loss;
        return this.checkGap(e.step);
      case 'eval':
        this.step = Math.max(this.step, e.step);
        this.lastEval = { step: e.step, valLoss: e.val_loss };
        if (e.val_loss === null) {
          this.lastMissingReason = e.reason ?? 'the trainer reported val_loss null without a reason';
          return this.checkGap(e.step);
        }
        this.valLoss = e.val_loss;
        this.valStep = e.step;
        this.gapFrom = e.step;
        return null;
      case 'checkpoint':
        this.step = Math.max(this.step, e.step);
        return this.checkGap(e.step);
    }
  }

  private checkGap(step: number): string | null {
    const every = this.opts.requiredEvery;
    if (step - this.gapFrom <= every) return null;
    const since = this.valStep === null ? `this attempt started at step ${this.opts.startStep}` : `step ${this.valStep}`;
    const why = this.lastMissingReason ? `; last reason: ${this.lastMissingReason}` : '';
    this.gapFrom = step;
    return `no validation loss since ${since} (now step ${step}; required every ${every} steps)${why}`;
  }

  /** At the end of a job: a final result without any val loss is never accepted silently. */
  finalCheck(finalValLoss: number | null): string | null {
    if (finalValLoss !== null || this.valLoss !== null) return null;
    const why = this.lastMissingReason ? `: ${this.lastMissingReason}` : '';
    return `the job finished at step ${this.step} without reporting any validation loss${why}`;
  }

  warn(message: string): void {
    this.warnings.push(message);
    if (this.warnings.length > MAX_WARNINGS) this.warnings.shift();
  }

  get currentStep(): number {
    return this.step;
  }

  snapshot(): TrainingProgress {
    const now = this.opts.now();
    const elapsed = (now - this.startedAt) / 1000;
    const done = this.step - this.opts.startStep;
    const stepsPerSecond = elapsed > 0 && done > 0 ? done / elapsed : null;
    const gap = this.valLoss !== null && this.trainLoss !== null ? this.valLoss - this.trainLoss : null;
    return {
      jobId: this.opts.jobId,
      instance: this.opts.instance,
      attempt: this.opts.attempt,
      step: this.step,
      totalSteps: this.totalSteps,
      trainLoss: this.trainLoss,
      valLoss: this.valLoss,
      valStep: this.valStep,
      gap,
      stepsPerSecond,
      etaSeconds: stepsPerSecond ? Math.max(0, this.totalSteps - this.step) / stepsPerSecond : null,
      lastCheckpoint: this.lastCheckpoint,
      bestCheckpoint: this.bestCheckpoint,
      startStep: this.opts.startStep,
      resumedFrom: this.opts.resumedFrom,
      heartbeatAt: new Date(now).toISOString(),
      warnings: [...this.warnings],
      ...(this.liveness ? { liveness: this.liveness } : {}),
    };
  }
}
