import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/config/logger.js';
import { EMBEDDED_POOL_MAX, startEmbeddedPostgres } from '../src/db/embedded.js';
import { loadMigrations, migrate } from '../src/db/migrate.js';
import { openDatabase, type Database } from '../src/db/open.js';
import { createPool } from '../src/db/pool.js';
import { createResultActivities, exportResults } from '../src/activities/experiments/results.js';

const logger = createLogger('silent');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('embedded database (PGlite over the wire protocol)', () => {
  let dataDir: string;
  let db: Database | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'shepherd-embedded-'));
  });
  afterAll(async () => {
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('opens without DATABASE_URL, migrates, writes, and keeps the data across a restart', async () => {
    db = await openDatabase({ dataDir, logger });
    expect(db.embedded).toBe(true);
    expect(db.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    expect(existsSync(path.join(dataDir, 'pglite'))).toBe(true);

    const files = await loadMigrations();
    const { rows: versions } = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(versions.map((r) => r.version)).toEqual(files.map((f) => f.version));

    const acts = createResultActivities({
      pool: db.pool,
      runsDir: path.join(dataDir, 'runs'),
      procDir: path.join(dataDir, 'procs'),
      logger,
    });
    await acts.recordExperimentResult({ batchId: 'emb', experiment: 'rf', status: 'succeeded', metrics: { accuracy: 0.91 }, attempt: 2 });
    await acts.recordExperimentResult({ batchId: 'emb', experiment: 'rf', status: 'failed', error: 'late', attempt: 1 });

    await db.close();
    db = undefined;
    expect(existsSync(path.join(dataDir, 'pglite.lock'))).toBe(false);

    db = await openDatabase({ dataDir, logger });
    const { rows } = await db.pool.query('SELECT experiment, status, attempt, metrics FROM experiment_results WHERE batch_id = $1', [
      'emb',
    ]);
    expect(rows).toEqual([{ experiment: 'rf', status: 'succeeded', attempt: 2, metrics: { accuracy: 0.91 } }]);
    expect(await migrate(db.pool)).toEqual({ applied: [] });
  });

  it('serves concurrent parameterised queries and transactions from several pooled clients correctly', async () => {
    const pool = db!.pool;
    expect(pool.options.max).toBe(EMBEDDED_POOL_MAX);
    await pool.query('CREATE TABLE IF NOT EXISTS probe (id int PRIMARY KEY, v text)');
    await pool.query('CREATE TABLE IF NOT EXISTS counter (id int PRIMARY KEY, n int)');
    await pool.query('INSERT INTO counter VALUES (1, 0) ON CONFLICT DO NOTHING');

    // pg sends every parameterised query as Parse/Bind/Execute/Sync. Unfixed, pglite-socket
    // interleaves those messages across connections and queries get each other's statements.
    const wrong: string[] = [];
    await Promise.all(
      Array.from({ length: 240 }, async (_, i) => {
        if (i % 4 === 0) {
          const c = await pool.connect();
          try {
            await c.query('BEGIN');
            const { rows } = await c.query<{ n: number }>('SELECT n FROM counter WHERE id = $1 FOR UPDATE', [1]);
            await c.query('UPDATE counter SET n = $1 WHERE id = $2', [rows[0]!.n + 1, 1]);
            await c.query(i % 8 === 0 ? 'COMMIT' : 'ROLLBACK');
          } finally {
            c.release();
          }
        } else if (i % 2 === 1) {
          const { rows } = await pool.query('SELECT $1::int AS x, $2::text AS y', [i, `v${i}`]);
          if (rows[0]?.x !== i || rows[0]?.y !== `v${i}`) wrong.push(`select ${i}: ${JSON.stringify(rows)}`);
        } else {
          await pool.query('INSERT INTO probe VALUES ($1, $2)', [i, `v${i}`]);
          const { rows } = await pool.query('SELECT v FROM probe WHERE id = $1', [i]);
          if (rows[0]?.v !== `v${i}`) wrong.push(`insert ${i}: ${JSON.stringify(rows)}`);
        }
      }),
    );
    expect(wrong).toEqual([]);
    const { rows } = await pool.query('SELECT n FROM counter WHERE id = 1');
    expect(rows[0].n).toBe(30); // committed increments only: i = 0, 8, ..., 232
  });

  it('concurrent migrations of a fresh embedded database through two pools apply each file once', async () => {
    const freshDir = await mkdtemp(path.join(os.tmpdir(), 'shepherd-emb-fresh-'));
    const server = await startEmbeddedPostgres({ dataDir: freshDir });
    const [p1, p2] = [createPool(server.url, { max: 2 }), createPool(server.url, { max: 2 })];
    try {
      const files = (await loadMigrations()).map((f) => f.file);
      const [a, b] = await Promise.all([migrate(p1), migrate(p2)]);
      expect([...a.applied, ...b.applied].sort()).toEqual(files);
      const { rows } = await p1.query('SELECT count(*)::int AS n FROM schema_migrations');
      expect(rows[0].n).toBe(files.length);
    } finally {
      await Promise.all([p1.end(), p2.end()]);
      await server.stop();
      await rm(freshDir, { recursive: true, force: true });
    }
  });

  it('a second process shares the running server instead of opening the files twice', async () => {
    const script = path.join(dataDir, 'reader.mts');
    await writeFile(
      script,
      `import { openDatabase } from ${JSON.stringify(path.join(root, 'src/db/open.ts'))};
import { exportResults } from ${JSON.stringify(path.join(root, 'src/activities/experiments/results.ts'))};
import { createLogger } from ${JSON.stringify(path.join(root, 'src/config/logger.ts'))};
const db = await openDatabase({ dataDir: process.argv[2], logger: createLogger('silent') });
process.stdout.write(JSON.stringify({ url: db.url, csv: await exportResults(db.pool, 'emb', 'csv') }));
await db.close();
`,
    );
    const child = await execa(path.join(root, 'node_modules/.bin/tsx'), [script, dataDir], { cwd: root });
    const out = JSON.parse(child.stdout);
    expect(out.url).toBe(db!.url);
    expect(out.csv).toBe(await exportResults(db!.pool, 'emb', 'csv'));
    // The child closing its pool left this process's server and lock alone.
    expect(JSON.parse(await readFile(path.join(dataDir, 'pglite.lock'), 'utf8')).pid).toBe(process.pid);
    const { rows } = await db!.pool.query('SELECT 1 AS one');
    expect(rows[0].one).toBe(1);
  });

  it('takes over a lock left behind by a dead process', async () => {
    await db!.close();
    db = undefined;
    const dead = await execa('node', ['-e', 'process.stdout.write(String(process.pid))']);
    await writeFile(path.join(dataDir, 'pglite.lock'), JSON.stringify({ pid: Number(dead.stdout), url: 'postgres://gone' }));
    db = await openDatabase({ dataDir, logger });
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM experiment_results');
    expect(rows[0].n).toBe(1);
  });
});
