import type { AnalyzerName, AnalyzerStatus } from './analyzers.js';

// Circuit breakers of the analysis pipeline as pure functions over plain state, so the workflow
// keeps them deterministically (and they show in the query) and tests can drive them directly.
// Seed 003: per-analyzer breakers there skipped a service but still created tasks, and nothing
// stopped the pipeline after every target failed. Here the analyzer breaker decides what a new
// target runs, and the pipeline breaker decides whether a new target starts at all.

export interface AnalyzerBreakerConfig {
  failureThreshold: number;
  /** Cool-down ends when this many targets have finished since the breaker opened ... */
  cooldownTargets: number;
  /** ... or this much workflow time has passed, whichever comes first. */
  cooldownMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface AnalyzerBreaker {
  analyzer: AnalyzerName;
  state: BreakerState;
  consecutiveFailures: number;
  /** Workflow time and finished-target count when it last opened. */
  openedAt?: number;
  openedAtTargets?: number;
  /** The target running the half-open trial, if one is running. */
  probe?: string;
  lastFailure?: string;
  trips: number;
}

export interface AnalyzerClock {
  now: number;
  targetsFinished: number;
}

export function newAnalyzerBreaker(analyzer: AnalyzerName): AnalyzerBreaker {
  return { analyzer, state: 'closed', consecutiveFailures: 0, trips: 0 };
}

export type AdmitDecision = { run: true; probe: boolean } | { run: false; reason: string };

/**
 * May `target` run this analyzer now? An open breaker whose cool-down is over becomes half-open
 * and admits exactly one target as a trial; others are skipped until the trial reports.
 */
export function admitAnalyzer(
  b: AnalyzerBreaker,
  cfg: AnalyzerBreakerConfig,
  clock: AnalyzerClock,
  target: string,
): { breaker: AnalyzerBreaker; decision: AdmitDecision } {
  if (b.state === 'closed') return { breaker: b, decision: { run: true, probe: false } };
  if (b.state === 'open') {
    const targetsSince = clock.targetsFinished - (b.openedAtTargets ?? 0);
    const elapsed = clock.now - (b.openedAt ?? 0);
    if (targetsSince < cfg.cooldownTargets && elapsed < cfg.cooldownMs) {
      return { breaker: b, decision: { run: false, reason: openReason(b) } };
    }
    return { breaker: { ...b, state: 'half-open', probe: target }, decision: { run: true, probe: true } };
  }
  if (b.probe === undefined) return { breaker: { ...b, probe: target }, decision: { run: true, probe: true } };
  return { breaker: b, decision: { run: false, reason: `breaker open: half-open, trial run on ${b.probe} in progress` } };
}

function openReason(b: AnalyzerBreaker): string {
  return `breaker open: ${b.analyzer} failed ${b.consecutiveFailures} times in a row${b.lastFailure ? ` (last: ${b.lastFailure})` : ''}`;
}

/** Feeds one target's outcome for this analyzer into its breaker. Skipped outcomes say nothing about the analyzer. */
export function recordAnalyzerOutcome(
  b: AnalyzerBreaker,
  cfg: AnalyzerBreakerConfig,
  clock: AnalyzerClock,
  target: string,
  status: AnalyzerStatus,
  reason?: string,
): AnalyzerBreaker {
  const wasProbe = b.state === 'half-open' && b.probe === target;
  if (status === 'skipped') return wasProbe ? { ...b, probe: undefined } : b;
  if (status === 'completed')
    return { ...b, state: 'closed', consecutiveFailures: 0, probe: undefined, openedAt: undefined, openedAtTargets: undefined };
  const failures = b.consecutiveFailures + 1;
  const failed = { ...b, consecutiveFailures: failures, lastFailure: reason };
  if (wasProbe || (b.state === 'closed' && failures >= cfg.failureThreshold)) {
    return { ...failed, state: 'open', probe: undefined, openedAt: clock.now, openedAtTargets: clock.targetsFinished, trips: b.trips + 1 };
  }
  return failed;
}

export function resetAnalyzerBreaker(b: AnalyzerBreaker): AnalyzerBreaker {
  return { analyzer: b.analyzer, state: 'closed', consecutiveFailures: 0, trips: b.trips };
}

export interface PipelineBreaker {
  state: 'closed' | 'open';
  consecutiveFailedTargets: number;
  threshold: number;
  reason?: string;
  trips: number;
}

export type TargetStatus = 'completed' | 'partial' | 'failed' | 'skipped' | 'cancelled';

export function newPipelineBreaker(threshold: number): PipelineBreaker {
  return { state: 'closed', consecutiveFailedTargets: 0, threshold, trips: 0 };
}

/** A failed target counts; a target that produced any result resets; skipped/cancelled say nothing. */
export function recordTargetOutcome(b: PipelineBreaker, status: TargetStatus, target: string): PipelineBreaker {
  if (status === 'completed' || status === 'partial') return b.state === 'open' ? b : { ...b, consecutiveFailedTargets: 0 };
  if (status !== 'failed') return b;
  const n = b.consecutiveFailedTargets + 1;
  if (b.state === 'closed' && n >= b.threshold) {
    return {
      ...b,
      state: 'open',
      consecutiveFailedTargets: n,
      trips: b.trips + 1,
      reason: `pipeline breaker open: ${n} consecutive failed targets (last: ${target})`,
    };
  }
  return { ...b, consecutiveFailedTargets: n };
}

export function resetPipelineBreaker(b: PipelineBreaker): PipelineBreaker {
  return { state: 'closed', consecutiveFailedTargets: 0, threshold: b.threshold, trips: b.trips };
}

/**
 * A target's status from its analyzers: every run analyzer completed → completed; some completed
 * → partial; none completed but one failed → failed; nothing ran → skipped.
 */
export function targetStatusOf(outcomes: { status: AnalyzerStatus }[]): Exclude<TargetStatus, 'cancelled'> {
  const completed = outcomes.filter((o) => o.status === 'completed').length;
  const failed = outcomes.filter((o) => o.status === 'failed').length;
  if (completed > 0) return completed === outcomes.length ? 'completed' : 'partial';
  return failed > 0 ? 'failed' : 'skipped';
}
