import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type Database, type OpenDatabaseOptions } from './open.js';
import { redactUrl } from './pool.js';

// Read commands (export, audit, metrics, recommendations) must never create a database: one
// that finds none says where it looked and fails, instead of printing an empty export.

export class NoShepherdDatabaseError extends Error {
  name = 'NoShepherdDatabaseError';
}

async function hasShepherdSchema(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS ok");
    return r.rows[0]?.ok === true;
  } finally {
    await client.end();
  }
}

export async function openExistingDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  if (opts.databaseUrl) {
    if (!(await hasShepherdSchema(opts.databaseUrl))) {
      throw new NoShepherdDatabaseError(
        `no Shepherd database at ${redactUrl(opts.databaseUrl)} (DATABASE_URL): it has no Shepherd tables; a worker creates them`,
      );
    }
  } else {
    const dir = path.join(opts.dataDir, 'pglite');
    if (!existsSync(dir)) {
      throw new NoShepherdDatabaseError(
        `no Shepherd database at ${dir}: set SHEPHERD_DATA_DIR to the worker's data directory, or DATABASE_URL`,
      );
    }
  }
  return openDatabase(opts);
}
