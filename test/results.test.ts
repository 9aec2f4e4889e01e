import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/config/logger.js';
import { createPool } from '../src/db/pool.js';
import { migrate } from '../src/db/migrate.js';
import { createResultActivities, exportResults, type ExperimentResultInput } from '../src/activities/experiments/results.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

/** RFC 4180 parser, so the tests check what a CSV reader sees rather than string shapes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cell);
      cell = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += ch;
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

describe('experiment results', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let dataDir: string;
  let acts: ReturnType<typeof createResultActivities>;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, { max: 4 });
    await migrate(pool);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'shepherd-results-'));
    acts = createResultActivities({
      pool,
      runsDir: path.join(dataDir, 'runs'),
      procDir: path.join(dataDir, 'procs'),
      logger: createLogger('silent'),
    });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const base = (over: Partial<ExperimentResultInput> = {}): ExperimentResultInput => ({
    batchId: 'b1',
    experiment: 'rf',
    status: 'succeeded',
    metrics: { accuracy: 0.91 },
    params: { model: 'random-forest', trees: 100 },
    dataset: 'data/iris.csv',
    command: ['node', 'train.js'],
    attempt: 1,
    durationMs: 1234,
    startedAt: '2026-02-24T10:00:00.000Z',
    finishedAt: '2026-02-24T10:00:01.234Z',
    ...over,
  });
  const stored = async (batchId: string, experiment: string) =>
    (
      await pool.query(
        'SELECT status, attempt, metrics, error, run_key, config_hash FROM experiment_results WHERE batch_id = $1 AND experiment = $2',
        [batchId, experiment],
      )
    ).rows;

  it('the same result written twice is one row', async () => {
    expect(await acts.recordExperimentResult(base())).toEqual({ written: true });
    expect(await acts.recordExperimentResult(base())).toEqual({ written: true });
    const rows = await stored('b1', 'rf');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'succeeded', attempt: 1, run_key: 'b1/rf', metrics: { accuracy: 0.91 } });
    expect(rows[0].config_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('an older attempt written after a newer one leaves the newer in place', async () => {
    const key = { batchId: 'b2', experiment: 'knn' };
    await acts.recordExperimentResult(base({ ...key, attempt: 3, metrics: { accuracy: 0.96 }, finishedAt: '2026-02-24T10:05:00Z' }));
    // Attempt 1 timed out earlier; its late write (even with a later clock) must not win.
    const late = await acts.recordExperimentResult(
      base({ ...key, attempt: 1, status: 'failed', error: 'exit 137', metrics: {}, finishedAt: '2026-02-24T11:00:00Z' }),
    );
    expect(late).toEqual({ written: false });
    expect(await stored('b2', 'knn')).toMatchObject([{ status: 'succeeded', attempt: 3, metrics: { accuracy: 0.96 }, error: null }]);

    // Within one attempt the later finish wins, an earlier replay does not.
    await acts.recordExperimentResult(base({ ...key, attempt: 3, metrics: { accuracy: 0.5 }, finishedAt: '2026-02-24T10:01:00Z' }));
    expect((await stored('b2', 'knn'))[0].metrics).toEqual({ accuracy: 0.96 });
  });

  it('concurrent writes of many attempts in any order end with exactly the newest', async () => {
    const attempts = [4, 1, 7, 3, 6, 2, 5, 7, 1];
    const results = await Promise.all(
      attempts.map((attempt) =>
        acts.recordExperimentResult(
          base({ batchId: 'b3', experiment: 'tree', attempt, metrics: { accuracy: attempt / 10 }, finishedAt: '2026-02-24T10:00:00Z' }),
        ),
      ),
    );
    expect(results.some((r) => r.written)).toBe(true);
    expect(await stored('b3', 'tree')).toMatchObject([{ attempt: 7, metrics: { accuracy: 0.7 } }]);
  });

  it('rejects bad input and rows the database refuses as non-retryable, naming the problem', async () => {
    const bad = await acts.recordExperimentResult({ ...base(), status: 'done' as never }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApplicationFailure);
    expect((bad as ApplicationFailure).nonRetryable).toBe(true);
    expect((bad as ApplicationFailure).message).toContain('row.status');

    const refused = await acts
      .recordExperimentResult(base({ experiment: 'time-travel', startedAt: '2026-02-24T12:00:00Z', finishedAt: '2026-02-24T11:00:00Z' }))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect((refused as ApplicationFailure).nonRetryable).toBe(true);
    expect((refused as ApplicationFailure).type).toBe('InvalidResult');
  });

  it('CSV has exactly one header after repeated writes and exports, metric columns flattened and quoted', async () => {
    const batchId = 'seed-000';
    const write = () =>
      Promise.all([
        acts.recordExperimentResult(
          base({ batchId, experiment: 'rf', metrics: { recall: 0.9, f1: 0.9, accuracy: 0.91, precision: 0.92, auc: 0.95 } }),
        ),
        acts.recordExperimentResult(base({ batchId, experiment: 'knn', metrics: { accuracy: 0.96, per_class: { setosa: 1 } } })),
        acts.recordExperimentResult(
          base({
            batchId,
            experiment: 'v4_4',
            status: 'failed',
            metrics: { status: 'oom?' },
            durationMs: 17000,
            error: 'exit 137 (SIGKILL, possible OOM): "MemoryError",\nwhile loading data',
          }),
        ),
      ]);
    for (let i = 0; i < 3; i++) {
      await write();
      await exportResults(pool, batchId, 'csv');
    }
    const csv = await exportResults(pool, batchId, 'csv');
    const rows = parseCsv(csv);
    expect(rows.filter((r) => r[0] === 'experiment')).toHaveLength(1);
    expect(rows[0]).toEqual([
      'experiment',
      'status',
      'accuracy',
      'precision',
      'recall',
      'f1',
      'auc',
      'per_class.setosa',
      'metrics.status',
      'duration_ms',
      'error',
    ]);
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.length === rows[0]!.length)).toBe(true);
    expect(rows[1]).toEqual(['knn', 'succeeded', '0.96', '', '', '', '', '1', '', '1234', '']);
    expect(rows[2]).toEqual(['rf', 'succeeded', '0.91', '0.92', '0.9', '0.9', '0.95', '', '', '1234', '']);
    expect(rows[3]![0]).toBe('v4_4');
    expect(rows[3]![8]).toBe('oom?');
    expect(rows[3]![10]).toBe('exit 137 (SIGKILL, possible OOM): "MemoryError",\nwhile loading data');

    const json = JSON.parse(await exportResults(pool, batchId, 'json'));
    expect(Array.isArray(json)).toBe(true);
    expect(json.map((r: { experiment: string }) => r.experiment)).toEqual(['knn', 'rf', 'v4_4']);
    expect(json[1]).toMatchObject({
      status: 'succeeded',
      metrics: { accuracy: 0.91 },
      params: { trees: 100 },
      attempt: 1,
      durationMs: 1234,
    });
  });

  it('exportBatchResults writes a file and returns a reference; rewriting it keeps one header', async () => {
    const first = await acts.exportBatchResults({ batchId: 'seed-000', format: 'csv' });
    const again = await acts.exportBatchResults({ batchId: 'seed-000', format: 'csv' });
    expect(again.path).toBe(first.path);
    expect(first.path).toBe(path.join(dataDir, 'exports', 'seed-000.csv'));
    const text = await readFile(first.path, 'utf8');
    expect(parseCsv(text).filter((r) => r[0] === 'experiment')).toHaveLength(1);
    expect(again).toMatchObject({ rows: 3, bytes: Buffer.byteLength(text) });

    const named = await acts.exportBatchResults({ batchId: 'seed-000', format: 'json', path: 'dash/seed.json' });
    expect(JSON.parse(await readFile(named.path, 'utf8'))).toHaveLength(3);

    for (const escape of ['../outside.csv', '/tmp/abs.csv']) {
      const err = await acts.exportBatchResults({ batchId: 'seed-000', format: 'csv', path: escape }).catch((e: unknown) => e);
      expect((err as ApplicationFailure).nonRetryable).toBe(true);
      expect((err as Error).message).toContain('path');
    }
  });

  it('records a batch start and finish idempotently; a late start never reopens a finished batch', async () => {
    const start = { batchId: 'batch-x', status: 'running' as const, input: { experiments: 3 }, workflowId: 'wf-1' };
    expect(await acts.recordBatch(start)).toEqual({ written: true });
    expect(await acts.recordBatch(start)).toEqual({ written: true });
    const finish = { batchId: 'batch-x', status: 'completed_with_failures' as const, summary: { succeeded: 2, failed: 1 } };
    expect(await acts.recordBatch(finish)).toEqual({ written: true });
    expect(await acts.recordBatch(start)).toEqual({ written: false });
    const { rows } = await pool.query('SELECT status, input, summary, workflow_id, finished_at FROM batches WHERE batch_id = $1', [
      'batch-x',
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      status: 'completed_with_failures',
      input: { experiments: 3 },
      summary: { succeeded: 2, failed: 1 },
      workflow_id: 'wf-1',
    });
    expect(rows[0].finished_at).toBeInstanceOf(Date);
  });
});
