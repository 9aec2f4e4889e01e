import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/db/pool.js';
import { loadMigrations, migrate, MigrationError } from '../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

describe('migrate against PostgreSQL', () => {
  let db: TestDatabase;
  const pools: pg.Pool[] = [];
  const pool = () => {
    const p = createPool(db.url, { max: 3 });
    pools.push(p);
    return p;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await db?.drop();
  });

  it('two processes migrating a fresh database at once apply each migration exactly once', async () => {
    const files = await loadMigrations();
    expect(files.map((f) => f.file)).toContain('001_foundation.sql');

    const [a, b] = await Promise.all([migrate(pool()), migrate(pool())]);
    const appliedByBoth = [...a.applied, ...b.applied].sort();
    expect(appliedByBoth).toEqual(files.map((f) => f.file).sort());

    const { rows } = await pool().query<{ version: number; n: number }>(
      'SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version',
    );
    expect(rows).toEqual(files.map((f) => ({ version: f.version, n: 1 })));
  });

  it('is a no-op once everything is applied', async () => {
    expect(await migrate(pool())).toEqual({ applied: [] });
  });

  it('creates the results tables with their unique key', async () => {
    const { rows } = await pool().query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE conrelid = 'experiment_results'::regclass AND contype = 'u' ORDER BY conname`,
    );
    expect(rows.map((r) => r.conname)).toEqual(['experiment_results_batch_experiment_key', 'experiment_results_run_key_key']);
    await pool().query(`SELECT batch_id, status, summary FROM batches LIMIT 0`);
  });

  it('survives an idle client losing its connection (pool error listener)', async () => {
    const p = pool();
    const client = await p.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    client.release(); // now idle in the pool
    const errored = new Promise((resolve) => p.once('error', resolve));
    await pool().query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    await errored; // without the listener installed by createPool this would crash the process
    const again = await p.query<{ one: number }>('SELECT 1 AS one');
    expect(again.rows[0]!.one).toBe(1);
  });
});

describe('migrate with a custom directory', () => {
  let db: TestDatabase;
  let dir: string;
  let p: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    p = createPool(db.url, { max: 2 });
  });
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await p?.end();
    await db?.drop();
  });

  const makeDir = async (files: Record<string, string>) => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'shepherd-migrations-'));
    for (const [name, sql] of Object.entries(files)) await writeFile(path.join(dir, name), sql);
    return dir;
  };

  it('applies files in version order and rejects an edited applied migration by name', async () => {
    const d = await makeDir({
      '002_second.sql': 'ALTER TABLE t ADD COLUMN b int;',
      '001_first.sql': 'CREATE TABLE t (a int);',
    });
    expect(await migrate(p, { dir: d })).toEqual({ applied: ['001_first.sql', '002_second.sql'] });

    await writeFile(path.join(d, '001_first.sql'), 'CREATE TABLE t (a bigint);');
    const err = await migrate(p, { dir: d }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).message).toContain('001_first.sql');
    expect((err as MigrationError).file).toBe('001_first.sql');
  });

  it('rolls back a failing migration entirely and names it', async () => {
    const d = await makeDir({
      '001_first.sql': 'CREATE TABLE t (a int);',
      '002_second.sql': 'ALTER TABLE t ADD COLUMN b int;',
      '003_broken.sql': 'CREATE TABLE half_done (x int); SELECT no_such_function();',
    });
    const err = await migrate(p, { dir: d }).catch((e: unknown) => e);
    expect((err as Error).message).toContain('003_broken.sql');
    const { rows } = await p.query(`SELECT to_regclass('half_done') AS t, (SELECT max(version) FROM schema_migrations) AS v`);
    expect(rows[0]).toEqual({ t: null, v: 2 });
  });

  it('rejects badly named and duplicate-version files', async () => {
    await expect(loadMigrations(await makeDir({ '1_x.sql': '' }))).rejects.toThrow(/1_x\.sql/);
    await rm(dir, { recursive: true });
    await expect(loadMigrations(await makeDir({ '004_a.sql': '', '004_b.sql': '' }))).rejects.toThrow(/004_a\.sql and 004_b\.sql/);
  });
});
