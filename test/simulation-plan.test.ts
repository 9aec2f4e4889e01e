import { describe, expect, it } from 'vitest';
import { deriveParameterKey, simulationJobSchema, type SimulationJobInput } from '../src/shared/simulation/schemas.js';
import { describeIssues } from '../src/shared/schemas.js';
import { aggregateResults, fieldStats, percentile, readField } from '../src/shared/simulation/aggregate.js';
import {
  batchCount,
  batchRange,
  defaultReplicatesPerTask,
  legacyReplicatesPerTask,
  durationToMs,
  nextSignalThreshold,
  parameterFails,
  progressSignalBudget,
  replicateSeed,
  sweepConcurrency,
  windowShape,
} from '../src/shared/simulation/sweep-plan.js';

const baseJob: SimulationJobInput = {
  jobId: 'unit',
  replicate: { command: 'node', args: ['model.mjs'] },
  parameters: [{ values: { beta: 0.3 } }, { values: { beta: 0.5 } }],
  replicates: 10,
  aggregate: { fields: ['attackRate'] },
};

function issuesOf(input: unknown): string {
  const r = simulationJobSchema.safeParse(input);
  return r.success ? '' : describeIssues(r.error);
}

describe('simulation job schema', () => {
  it('fills defaults for a minimal job', () => {
    const job = simulationJobSchema.parse(baseJob);
    expect(job.maxConcurrentReplicates).toBe(8);
    expect(job.seed).toEqual({ base: 1, policy: 'hashed' });
    expect(job.failurePolicy.maxFailedPercent).toBe(0);
    expect(job.aggregate.stats).toEqual(['count', 'mean', 'std', 'min', 'max']);
  });

  it('names the field of every bad input', () => {
    expect(issuesOf({ ...baseJob, replicates: 0 })).toMatch(/input\.replicates/);
    expect(issuesOf({ ...baseJob, parameters: [] })).toMatch(/input\.parameters: needs at least one parameter set/);
    expect(issuesOf({ ...baseJob, aggregate: { fields: [] } })).toMatch(/input\.aggregate\.fields/);
    expect(issuesOf({ ...baseJob, failurePolicy: { maxFailedPercent: 120 } })).toMatch(/input\.failurePolicy\.maxFailedPercent/);
    expect(issuesOf({ ...baseJob, jobId: 'has space' })).toMatch(/input\.jobId/);
    expect(issuesOf({ ...baseJob, environment: { bundle: '../outside', probe: { command: 'node' } } })).toMatch(
      /input\.environment\.bundle/,
    );
    expect(issuesOf({ ...baseJob, replicate: { command: 'node', shell: 'rm -rf /' } })).toMatch(/input\.replicate/);
    expect(issuesOf({ ...baseJob, timeout: 'soon' })).toMatch(/input\.timeout/);
  });

  it('rejects two parameter sets that end up with the same key', () => {
    const msg = issuesOf({ ...baseJob, parameters: [{ values: { beta: 0.3 } }, { values: { beta: 0.3 } }] });
    expect(msg).toMatch(/input\.parameters\.1\.values: parameter key "beta-0.3" is also used by parameters\[0\]/);
    expect(
      issuesOf({
        ...baseJob,
        parameters: [
          { key: 'a', values: { beta: 0.3 } },
          { key: 'b', values: { beta: 0.3 } },
        ],
      }),
    ).toBe('');
  });

  it('derives readable, ID-safe parameter keys and hashes long ones', () => {
    expect(deriveParameterKey({ gamma: 0.1, beta: 0.3 })).toBe('beta-0.3_gamma-0.1');
    expect(deriveParameterKey({ model: 'a b/c' })).toBe('model-a-b-c');
    const long = deriveParameterKey({ description: 'x'.repeat(200) });
    expect(long).toMatch(/^p-[0-9a-f]{16}$/);
    expect(deriveParameterKey({ description: 'x'.repeat(200) })).toBe(long);
    expect(deriveParameterKey({ description: 'y'.repeat(200) })).not.toBe(long);
  });
});

describe('statistics', () => {
  it('computes mean, sample std, min, max and interpolated percentiles', () => {
    const s = fieldStats([2, 4, 4, 4, 5, 5, 7, 9], { stats: ['count', 'mean', 'std', 'min', 'max'], percentiles: [0, 50, 100, 25] });
    expect(s.count).toBe(8);
    expect(s.mean).toBe(5);
    expect(s.std).toBeCloseTo(2.138089935, 8);
    expect(s.min).toBe(2);
    expect(s.max).toBe(9);
    expect(s.percentiles).toEqual({ p0: 2, p50: 4.5, p100: 9, p25: 4 });
    expect(percentile([1, 2, 3, 4], 90)).toBeCloseTo(3.7, 10);
    const share = fieldStats([...Array(45).fill(1), ...Array(5).fill(0)], { stats: ['mean'], percentiles: [] });
    expect(share.mean).toBe(0.9);
    const big = fieldStats([1e9 + 1, 1e9 + 2, 1e9 + 3], { stats: ['mean', 'std'], percentiles: [] });
    expect(big.mean).toBe(1e9 + 2);
    expect(big.std).toBeCloseTo(1, 6);
  });

  it('counts missing and non-numeric values instead of treating them as zero', () => {
    const s = fieldStats([1, undefined, 'x', null, 3, Number.NaN], { stats: ['mean', 'std'], percentiles: [] });
    expect(s).toEqual({ count: 2, missing: 4, mean: 2, std: Math.SQRT2 });
    expect(fieldStats([], { stats: ['mean', 'std', 'min'], percentiles: [50] })).toEqual({
      count: 0,
      missing: 0,
      mean: null,
      std: null,
      min: null,
      percentiles: { p50: null },
    });
  });

  it('reads dotted fields from nested results', () => {
    expect(readField({ peak: { day: 3 } }, 'peak.day')).toBe(3);
    expect(readField({ peak: 3 }, 'peak.day')).toBeUndefined();
    const agg = aggregateResults(
      [
        { a: 1, b: { c: 10 } },
        { a: 3, b: { c: 30 } },
      ],
      {
        fields: ['a', 'b.c'],
        stats: ['mean'],
        percentiles: [],
      },
    );
    expect(agg).toEqual({ a: { count: 2, missing: 0, mean: 2 }, 'b.c': { count: 2, missing: 0, mean: 20 } });
  });
});

describe('sweep plan', () => {
  it('gives every replicate a deterministic seed, distinct across replicates and parameter sets', () => {
    const hashed = { base: 7, policy: 'hashed' as const };
    const seeds = new Set<number>();
    for (const key of ['a', 'b']) for (let i = 0; i < 500; i++) seeds.add(replicateSeed(hashed, key, i));
    expect(seeds.size).toBe(1000);
    expect(replicateSeed(hashed, 'a', 3)).toBe(replicateSeed({ ...hashed }, 'a', 3));
    expect(replicateSeed({ base: 8, policy: 'hashed' }, 'a', 3)).not.toBe(replicateSeed(hashed, 'a', 3));
    expect(replicateSeed({ base: 100, policy: 'sequential' }, 'a', 5)).toBe(105);
    expect(replicateSeed({ base: 100, policy: 'sequential' }, 'b', 5)).toBe(105);
    for (const s of seeds) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(2 ** 31);
    }
  });

  it('covers every replicate exactly once with its batches', () => {
    for (const [n, per] of [
      [200, 8],
      [2000, 80],
      [7, 3],
      [1, 1],
    ]) {
      const covered: number[] = [];
      for (let b = 0; b < batchCount(n, per); b++) {
        const r = batchRange(b, n, per);
        for (let i = r.from; i < r.to; i++) covered.push(i);
      }
      expect(covered).toEqual(Array.from({ length: n }, (_, i) => i));
    }
  });

  it('keeps the number of tasks per sweep small at any size', () => {
    expect(batchCount(200, defaultReplicatesPerTask(200))).toBe(5);
    expect(batchCount(2000, defaultReplicatesPerTask(2000))).toBe(20);
    expect(batchCount(200, legacyReplicatesPerTask(200))).toBe(25);
    expect(defaultReplicatesPerTask(3)).toBe(1);
    expect(defaultReplicatesPerTask(100_000)).toBe(100);
  });

  it('never runs more replicates at once than the budget allows', () => {
    for (const budget of [1, 5, 8, 40, 333]) {
      for (const sweeps of [1, 3, 20]) {
        const c = sweepConcurrency(budget, sweeps);
        expect(c).toBeGreaterThanOrEqual(1);
        if (budget >= sweeps) expect(c * sweeps).toBeLessThanOrEqual(budget);
        for (const per of [1, 4, 80]) {
          const { perTaskConcurrency, window } = windowShape(c, per);
          expect(perTaskConcurrency * window).toBeLessThanOrEqual(c);
          expect(perTaskConcurrency).toBeLessThanOrEqual(per);
        }
      }
    }
  });

  it('applies the partial-failure policy as "more than X%"', () => {
    expect(parameterFails(10, 0, 0)).toBe(false);
    expect(parameterFails(10, 1, 0)).toBe(true);
    expect(parameterFails(10, 2, 20)).toBe(false);
    expect(parameterFails(10, 3, 20)).toBe(true);
    expect(parameterFails(3, 1, 33.3333333333)).toBe(false);
    expect(parameterFails(10, 10, 100)).toBe(false);
  });

  it('bounds progress signals so the job history stays small', () => {
    expect(progressSignalBudget(20)).toBe(20);
    expect(progressSignalBudget(500) * 500 * 4).toBeLessThan(30_000);
    const thresholds = Array.from({ length: 5 }, (_, k) => nextSignalThreshold(k, 5, 100));
    expect(thresholds).toEqual([17, 34, 50, 67, 84]);
    expect(nextSignalThreshold(0, 0, 100)).toBe(Number.POSITIVE_INFINITY);
  });

  it('parses the duration grammar of the input schema', () => {
    expect(durationToMs('30s')).toBe(30_000);
    expect(durationToMs('1.5m')).toBe(90_000);
    expect(durationToMs(250)).toBe(250);
    expect(() => durationToMs('soon')).toThrow(/not a duration/);
  });
});
