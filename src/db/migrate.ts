import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Logger } from '../config/logger.js';

/** Where the versioned `NNN_name.sql` files live, next to this module whether run from src or a build. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

// One fixed key for every Shepherd process: 'Shepherd' in ASCII, as an int8.
const MIGRATION_LOCK_KEY = '6004234345560363876';

const FILE_PATTERN = /^(\d{3})_([a-z0-9_]+)\.sql$/;

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
  sql: string;
  checksum: string;
}

export interface MigrateOptions {
  /** Directory of `NNN_name.sql` files; defaults to MIGRATIONS_DIR. */
  dir?: string;
  logger?: Logger;
}

export interface MigrateResult {
  /** File names this call applied (others were already applied, possibly by a concurrent process). */
  applied: string[];
}

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const entries = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const byVersion = new Map<number, MigrationFile>();
  for (const file of entries) {
    const m = FILE_PATTERN.exec(file);
    if (!m) throw new MigrationError(`migration file name ${file} does not match NNN_name.sql`, file);
    const version = Number(m[1]);
    const clash = byVersion.get(version);
    if (clash) throw new MigrationError(`migrations ${clash.file} and ${file} share version ${m[1]}`, file);
    const sql = await readFile(path.join(dir, file), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    byVersion.set(version, { version, name: m[2], file, sql, checksum });
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

/**
 * Applies pending migrations, each in its own transaction, in version order.
 *
 * Concurrency: a session-level advisory lock makes a second process wait until the first has
 * finished, then it finds nothing to do. The "already applied?" check is repeated inside each
 * migration's transaction as well, because on embedded PGlite every connection shares one backend
 * session, so the advisory lock is re-entrant there; the socket server instead serialises whole
 * transactions, which makes the in-transaction check sufficient.
 */
export async function migrate(pool: pg.Pool, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const files = await loadMigrations(opts.dir);
  const applied: string[] = [];
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1::int8)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version    integer PRIMARY KEY,
          name       text NOT NULL,
          checksum   text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`);
      for (const m of files) {
        if (await applyOne(client, m)) {
          applied.push(m.file);
          opts.logger?.info({ migration: m.file }, 'applied migration');
        }
      }
    } finally {
      // If unlocking fails the connection is unusable; destroying it releases the lock server-side.
      await client.query('SELECT pg_advisory_unlock($1::int8)', [MIGRATION_LOCK_KEY]).catch((err: Error) => {
        broken = err;
      });
    }
  } finally {
    client.release(broken);
  }
  return { applied };
}

/** Returns true when this call applied the migration, false when it was already there. */
async function applyOne(client: pg.PoolClient, m: MigrationFile): Promise<boolean> {
  await client.query('BEGIN');
  try {
    const existing = await client.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE version = $1', [m.version]);
    if (existing.rows.length > 0) {
      if (existing.rows[0]!.checksum !== m.checksum) {
        throw new MigrationError(
          `migration ${m.file} was changed after it was applied (checksum differs); ` +
            'add a new migration instead of editing an applied one',
          m.file,
        );
      }
      await client.query('ROLLBACK');
      return false;
    }
    try {
      await client.query(m.sql);
    } catch (err) {
      throw new MigrationError(`migration ${m.file} failed: ${(err as Error).message}`, m.file);
    }
    await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
