import pg from 'pg';
import type { Logger } from '../config/logger.js';

export interface PoolOptions {
  /** Upper bound on open connections; keep it below what the server accepts (see embedded.ts). */
  max?: number;
  logger?: Logger;
}

export const DEFAULT_POOL_MAX = 10;

export function createPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? DEFAULT_POOL_MAX,
    // Idle connections are closed so a quiet worker does not pin server slots for hours.
    idleTimeoutMillis: 30_000,
    // Fail fast when the database is unreachable instead of hanging an activity until its timeout.
    connectionTimeoutMillis: 10_000,
    application_name: 'shepherd',
  });
  // An idle client can lose its connection (server restart, network). pg emits 'error' on the pool;
  // without a listener Node treats it as unhandled and kills the whole worker. The pool discards the
  // broken client by itself, so logging is all that is needed.
  pool.on('error', (err) => {
    opts.logger?.warn({ err: err.message }, 'idle database connection failed; it was discarded');
  });
  return pool;
}

/** A URL with the password replaced, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable database url>';
  }
}
