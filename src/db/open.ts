import type pg from 'pg';
import type { Logger } from '../config/logger.js';
import { EMBEDDED_POOL_MAX, EmbeddedDatabaseInUseError, readLiveLock, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded.js';
import { migrate, MigrationError } from './migrate.js';
import { createPool, redactUrl } from './pool.js';

export interface OpenDatabaseOptions {
  /** A PostgreSQL server; unset means the embedded PGlite under `<dataDir>/pglite`. */
  databaseUrl?: string;
  dataDir: string;
  logger: Logger;
  /** Pool size for an external server (the embedded one always uses EMBEDDED_POOL_MAX). */
  poolMax?: number;
}

export interface Database {
  pool: pg.Pool;
  url: string;
  /** True when the data lives in the embedded PGlite (started here or by another local process). */
  embedded: boolean;
  close(): Promise<void>;
}

/** Connects (or starts the embedded database), applies pending migrations, and returns the pool. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const { logger } = opts;
  let server: EmbeddedPostgres | undefined;
  let url: string;
  let max: number | undefined = opts.poolMax;

  if (opts.databaseUrl) {
    url = opts.databaseUrl;
  } else {
    max = EMBEDDED_POOL_MAX;
    try {
      server = await startEmbeddedPostgres({ dataDir: opts.dataDir, logger });
      url = server.url;
    } catch (err) {
      if (!(err instanceof EmbeddedDatabaseInUseError)) throw err;
      // Another Shepherd process (say, the dev stack while a CLI command runs) already serves this
      // directory: share its server rather than opening the files twice.
      const owner = await readLiveLock(opts.dataDir);
      if (!owner?.url) throw err;
      url = owner.url;
      logger.info({ ownerPid: owner.pid, url }, 'using the embedded database served by another process');
    }
  }

  const pool = createPool(url, { max, logger });
  try {
    await migrate(pool, { logger });
  } catch (err) {
    await pool.end().catch(() => {});
    await server?.stop().catch(() => {});
    if (err instanceof MigrationError) throw err;
    // pg's own messages (ECONNREFUSED, auth failed) do not say which database was meant.
    throw new Error(`cannot use database ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  logger.debug({ url: redactUrl(url), embedded: !opts.databaseUrl }, 'database ready');

  let closed: Promise<void> | undefined;
  return {
    pool,
    url,
    embedded: !opts.databaseUrl,
    close: () =>
      (closed ??= (async () => {
        await pool.end();
        await server?.stop();
      })()),
  };
}
