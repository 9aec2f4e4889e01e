import { describe, expect, it } from 'vitest';
import {
  admitAnalyzer,
  newAnalyzerBreaker,
  newPipelineBreaker,
  recordAnalyzerOutcome,
  recordTargetOutcome,
  resetAnalyzerBreaker,
  resetPipelineBreaker,
  targetStatusOf,
  type AnalyzerBreaker,
} from '../../src/shared/analysis/breakers.js';

// The breakers as pure functions: every transition, including the ones the workflow tests
// (pipeline-breaker-workflow.test.ts) cannot reach cheaply, such as the time-based cool-down.

const cfg = { failureThreshold: 3, cooldownTargets: 2, cooldownMs: 60_000 };
const at = (now: number, targetsFinished: number) => ({ now, targetsFinished });

function failTimes(b: AnalyzerBreaker, n: number, clock = at(0, 0)): AnalyzerBreaker {
  for (let i = 0; i < n; i++) b = recordAnalyzerOutcome(b, cfg, clock, `t${i}`, 'failed', `boom ${i}`);
  return b;
}

describe('analyzer breaker', () => {
  it('opens after N consecutive failures, not before, and a completion in between resets the count', () => {
    let b = failTimes(newAnalyzerBreaker('static'), 2);
    expect(b.state).toBe('closed');
    b = recordAnalyzerOutcome(b, cfg, at(0, 2), 'x', 'completed');
    expect(b.consecutiveFailures).toBe(0);
    b = failTimes(b, 3, at(1000, 3));
    expect(b).toMatchObject({ state: 'open', consecutiveFailures: 3, openedAt: 1000, openedAtTargets: 3, trips: 1, lastFailure: 'boom 2' });
  });

  it('skipped outcomes neither count as failures nor reset', () => {
    let b = failTimes(newAnalyzerBreaker('dynamic'), 2);
    b = recordAnalyzerOutcome(b, cfg, at(0, 2), 'x', 'skipped', 'breaker open');
    expect(b.consecutiveFailures).toBe(2);
  });

  it('an open breaker skips with "breaker open" until the cool-down in targets has passed, then admits one trial', () => {
    const open = failTimes(newAnalyzerBreaker('static'), 3, at(0, 5));
    const denied = admitAnalyzer(open, cfg, at(10, 6), 'a');
    expect(denied.decision).toEqual({
      run: false,
      reason: expect.stringMatching(/^breaker open: static failed 3 times in a row \(last: boom 2\)/),
    });
    const trial = admitAnalyzer(open, cfg, at(10, 7), 'b');
    expect(trial.decision).toEqual({ run: true, probe: true });
    expect(trial.breaker).toMatchObject({ state: 'half-open', probe: 'b' });
    // While the trial runs, other targets are skipped.
    const other = admitAnalyzer(trial.breaker, cfg, at(11, 7), 'c');
    expect(other.decision).toEqual({ run: false, reason: expect.stringMatching(/half-open, trial run on b/) });
  });

  it('the cool-down also ends by workflow time', () => {
    const open = failTimes(newAnalyzerBreaker('performance'), 3, at(1000, 0));
    expect(admitAnalyzer(open, cfg, at(60_999, 0), 'a').decision.run).toBe(false);
    expect(admitAnalyzer(open, cfg, at(61_000, 0), 'a').decision).toEqual({ run: true, probe: true });
  });

  it('a successful trial closes it; a failed trial opens it again at once', () => {
    const open = failTimes(newAnalyzerBreaker('static'), 3);
    const { breaker: half } = admitAnalyzer(open, cfg, at(0, 2), 'p');
    expect(recordAnalyzerOutcome(half, cfg, at(5, 3), 'p', 'completed')).toMatchObject({
      state: 'closed',
      consecutiveFailures: 0,
      probe: undefined,
    });
    const reopened = recordAnalyzerOutcome(half, cfg, at(5, 3), 'p', 'failed', 'still broken');
    expect(reopened).toMatchObject({ state: 'open', openedAt: 5, openedAtTargets: 3, trips: 2, lastFailure: 'still broken' });
    // A skipped trial frees the trial slot without deciding anything.
    expect(recordAnalyzerOutcome(half, cfg, at(5, 3), 'p', 'skipped')).toMatchObject({ state: 'half-open', probe: undefined });
  });

  it('reset closes it and keeps the trip count', () => {
    const open = failTimes(newAnalyzerBreaker('ai-review'), 3);
    expect(resetAnalyzerBreaker(open)).toEqual({ analyzer: 'ai-review', state: 'closed', consecutiveFailures: 0, trips: 1 });
  });
});

describe('pipeline breaker', () => {
  it('opens after N consecutive failed targets; completed or partial targets reset the count; skipped do not', () => {
    let b = newPipelineBreaker(2);
    b = recordTargetOutcome(b, 'failed', 'm/1');
    b = recordTargetOutcome(b, 'skipped', 'm/2');
    b = recordTargetOutcome(b, 'partial', 'm/3');
    expect(b).toMatchObject({ state: 'closed', consecutiveFailedTargets: 0 });
    b = recordTargetOutcome(b, 'failed', 'm/4');
    b = recordTargetOutcome(b, 'failed', 'm/5');
    expect(b).toMatchObject({ state: 'open', trips: 1, reason: 'pipeline breaker open: 2 consecutive failed targets (last: m/5)' });
    // Once open, a late success of a target still running does not close it: only a reset does.
    expect(recordTargetOutcome(b, 'completed', 'm/6').state).toBe('open');
    expect(resetPipelineBreaker(b)).toEqual({ state: 'closed', consecutiveFailedTargets: 0, threshold: 2, trips: 1 });
  });
});

describe('target status', () => {
  it('is completed only when every analyzer completed, failed only when none did', () => {
    expect(targetStatusOf([{ status: 'completed' }, { status: 'completed' }])).toBe('completed');
    expect(targetStatusOf([{ status: 'completed' }, { status: 'skipped' }])).toBe('partial');
    expect(targetStatusOf([{ status: 'completed' }, { status: 'failed' }])).toBe('partial');
    expect(targetStatusOf([{ status: 'failed' }, { status: 'skipped' }])).toBe('failed');
    expect(targetStatusOf([{ status: 'skipped' }])).toBe('skipped');
  });
});
