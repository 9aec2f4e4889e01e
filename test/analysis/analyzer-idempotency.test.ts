import { afterAll, describe, expect, it } from 'vitest';
import { countFindings, listAnalyzerRuns, listFindings } from '../../src/db/analysis/findings-query.js';
import { storeAnalyzerResult, type AnalyzerAttemptKey, type FindingRow } from '../../src/db/analysis/findings-store.js';
import { analyzerHarness, APPS, closePool, pool } from './analyzer-support.js';

// A retried or late attempt never duplicates findings nor overwrites the winner's: the newest
// attempt of a run (or the later-scheduled run) wins, whatever order the stores arrive in.

afterAll(closePool);

const target = { model: 'qwen-coder', app: 'app2', sourceDir: `${APPS}/qwen-coder-app2` };

function findings(n: number, tag: string): FindingRow[] {
  return Array.from({ length: n }, (_, i) => ({ rule: `r${i % 7}`, severity: 'low', location: `f.js:${i}:1`, message: `${tag} #${i}` }));
}

describe('findings storage idempotency', () => {
  it('runAnalyzer: a retry replaces without duplicates; a late, older attempt changes nothing', async () => {
    const h = analyzerHarness();
    const t0 = Date.now();
    const a2 = await h.run({ target, analyzer: 'static' }, { attempt: 2, currentAttemptScheduledTimestampMs: t0 });
    expect(a2.findings).toBeGreaterThan(0);
    const after2 = await listFindings(pool(), { pipelineId: h.pipelineId });
    expect(new Set(after2.map((r) => r.attempt))).toEqual(new Set([2]));

    // Attempt 1 was timed out by the server but its process finished late: it must not win.
    await h.run({ target, analyzer: 'static' }, { attempt: 1, currentAttemptScheduledTimestampMs: t0 - 60_000 });
    const afterLate = await listFindings(pool(), { pipelineId: h.pipelineId });
    expect(afterLate.map((r) => [r.rule, r.location, r.attempt])).toEqual(after2.map((r) => [r.rule, r.location, r.attempt]));

    // Attempt 3 (a retry after a crash past the store) replaces the set: same count, no duplicates.
    const a3 = await h.run({ target, analyzer: 'static' }, { attempt: 3, currentAttemptScheduledTimestampMs: t0 + 1000 });
    const after3 = await listFindings(pool(), { pipelineId: h.pipelineId });
    expect(after3).toHaveLength(a3.findings);
    expect(a3.findings).toBe(a2.findings);
    expect(new Set(after3.map((r) => r.attempt))).toEqual(new Set([3]));
    const [run] = await listAnalyzerRuns(pool(), h.pipelineId);
    expect(run).toMatchObject({ attempt: 3, findings: a3.findings, status: 'completed' });
  });

  it("racing stores of several attempts leave exactly the newest attempt's set", async () => {
    const pipelineId = `race${Date.now()}`;
    const key = (attempt: number): AnalyzerAttemptKey => ({
      pipelineId,
      model: 'm',
      app: 'a',
      analyzer: 'static',
      runId: 'run-1',
      attempt,
      scheduledMs: 1000 + attempt,
    });
    const run = { status: 'completed' as const, bySeverity: {}, durationMs: 1 };
    const attempts = [3, 1, 5, 2, 4];
    const results = await Promise.all(attempts.map((a) => storeAnalyzerResult(pool(), key(a), run, findings(50 + a, `attempt ${a}`))));
    // Whichever order they committed in, attempt 5's 55 findings are what is stored.
    const rows = await listFindings(pool(), { pipelineId, limit: 1000 });
    expect(rows).toHaveLength(55);
    expect(new Set(rows.map((r) => r.attempt))).toEqual(new Set([5]));
    expect(results[attempts.indexOf(5)]!.stored).toBe(true);
    // A store that lost says so, and names a newer winner than itself.
    results.forEach((r, i) => {
      if (!r.stored) expect(r.winner.attempt).toBeGreaterThan(attempts[i]!);
    });
    const [row] = await listAnalyzerRuns(pool(), pipelineId);
    expect(row).toMatchObject({ attempt: 5, findings: 55 });
  });

  it("a new workflow run replaces an older run's findings; the older run's late attempt does not come back", async () => {
    const pipelineId = `rerun${Date.now()}`;
    const base = { pipelineId, model: 'm', app: 'a', analyzer: 'dynamic' };
    const run = { status: 'completed' as const, bySeverity: {}, durationMs: 1 };
    await storeAnalyzerResult(pool(), { ...base, runId: 'old', attempt: 1, scheduledMs: 1000 }, run, findings(10, 'old'));
    const fresh = await storeAnalyzerResult(pool(), { ...base, runId: 'new', attempt: 1, scheduledMs: 5000 }, run, findings(3, 'new'));
    expect(fresh.stored).toBe(true);
    const late = await storeAnalyzerResult(pool(), { ...base, runId: 'old', attempt: 2, scheduledMs: 2000 }, run, findings(10, 'old late'));
    expect(late).toMatchObject({ stored: false, winner: { runId: 'new', attempt: 1 } });
    expect(await countFindings(pool(), { pipelineId })).toBe(3);
    expect((await listFindings(pool(), { pipelineId })).every((r) => r.runId === 'new')).toBe(true);
  });

  it('the same finding twice in one report is stored once', async () => {
    const pipelineId = `dup${Date.now()}`;
    const dup = [...findings(5, 'x'), ...findings(5, 'x')];
    await storeAnalyzerResult(
      pool(),
      { pipelineId, model: 'm', app: 'a', analyzer: 'static', runId: 'r', attempt: 1, scheduledMs: 1 },
      { status: 'completed', bySeverity: {}, durationMs: 1 },
      dup,
    );
    expect(await countFindings(pool(), { pipelineId })).toBe(5);
  });
});
