import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import type { Logger } from '../config/logger.js';

/**
 * Connection budget of the embedded server.
 *
 * PGlite is one backend session; the socket server multiplexes up to `maxConnections` client
 * sockets onto it and runs one protocol message at a time. Sockets beyond the limit are dropped by
 * the server (`net.Server.maxConnections`), which a pg client sees as "Connection terminated".
 * So: the sum of `max` over every pool pointed at this server (this process, plus any other process
 * that found it through the lock file) must stay below EMBEDDED_MAX_CONNECTIONS, with headroom
 * because a closed socket frees its slot only asynchronously. Each pool uses EMBEDDED_POOL_MAX,
 * which leaves room for EMBEDDED_MAX_CONNECTIONS / EMBEDDED_POOL_MAX - 1 = 7 processes.
 * More clients per pool would not add throughput: queries execute one at a time anyway.
 */
export const EMBEDDED_MAX_CONNECTIONS = 32;
export const EMBEDDED_POOL_MAX = 4;

export interface EmbeddedPostgres {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Shepherd's data directory; the database lives in `<dataDir>/pglite`. */
  dataDir: string;
  /** 0 or unset: a free port chosen by the OS. */
  port?: number;
  logger?: Logger;
}

/** Another live process already serves this data directory; connect to `url` instead. */
export class EmbeddedDatabaseInUseError extends Error {
  constructor(
    readonly lockFile: string,
    readonly pid: number,
    readonly url: string | undefined,
  ) {
    super(
      `embedded database ${path.dirname(lockFile)}/pglite is in use by process ${pid}` +
        (url ? ` at ${url}` : '') +
        `; if that process is not Shepherd, delete ${lockFile}`,
    );
    this.name = 'EmbeddedDatabaseInUseError';
  }
}

interface LockContent {
  pid: number;
  url?: string;
}

/**
 * Starts PGlite persisted under `<dataDir>/pglite` and serves it over the PostgreSQL wire protocol
 * on 127.0.0.1. Two PGlite instances on one directory would corrupt it, so a lock file
 * (`<dataDir>/pglite.lock`, pid + url) makes a second process fail with EmbeddedDatabaseInUseError,
 * which tells it where the running server is.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(opts.dataDir);
  const dbDir = path.join(dataDir, 'pglite');
  const lockFile = path.join(dataDir, 'pglite.lock');
  await mkdir(dbDir, { recursive: true });
  await acquireLock(lockFile);

  let db: PGlite | undefined;
  let server: PGLiteSocketServer | undefined;
  try {
    db = await PGlite.create(dbDir);
    server = new PGLiteSocketServer({
      db: withExtendedQueryAffinity(db),
      host: '127.0.0.1',
      port: opts.port ?? 0,
      maxConnections: EMBEDDED_MAX_CONNECTIONS,
    });
    server.addEventListener('error', (event) => {
      const err = (event as CustomEvent<Error>).detail;
      opts.logger?.warn({ err: err?.message }, 'embedded database connection error');
    });
    await server.start();
  } catch (err) {
    await server?.stop().catch(() => {});
    await db?.close().catch(() => {});
    await rm(lockFile, { force: true });
    throw err;
  }

  // PGlite accepts any user and password; the database is always "postgres".
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  await writeFile(lockFile, JSON.stringify({ pid: process.pid, url } satisfies LockContent));
  opts.logger?.info({ dataDir: dbDir, url }, 'embedded PostgreSQL (PGlite) started');

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await server!.stop();
      await db!.close();
      await rm(lockFile, { force: true });
    })());
  return { url, dataDir: dbDir, stop };
}

/** Reads the lock of a directory served by another live process, waiting briefly for its url. */
export async function readLiveLock(dataDir: string, waitForUrlMs = 15_000): Promise<LockContent | undefined> {
  const lockFile = path.join(path.resolve(dataDir), 'pglite.lock');
  const deadline = Date.now() + waitForUrlMs;
  for (;;) {
    const content = await readLock(lockFile);
    if (!content || !isAlive(content.pid)) return undefined;
    if (content.url || Date.now() >= deadline) return content;
    // The owner is still starting (the url is written once the server listens).
    await sleep(100);
  }
}

async function acquireLock(lockFile: string): Promise<void> {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fh = await open(lockFile, 'wx');
      await fh.writeFile(JSON.stringify({ pid: process.pid } satisfies LockContent));
      await fh.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readLock(lockFile);
    if (owner && owner.pid !== process.pid && isAlive(owner.pid)) {
      throw new EmbeddedDatabaseInUseError(lockFile, owner.pid, owner.url);
    }
    if (owner && owner.pid === process.pid) {
      throw new Error(`embedded database in ${path.dirname(lockFile)} is already open in this process`);
    }
    // Left behind by a process that died without stopping the server.
    await rm(lockFile, { force: true });
  }
  throw new Error(`could not acquire ${lockFile}`);
}

async function readLock(lockFile: string): Promise<LockContent | undefined> {
  try {
    const parsed = JSON.parse(await readFile(lockFile, 'utf8')) as Partial<LockContent>;
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, url: parsed.url } : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Frontend message types of the extended query protocol; 'S' (Sync) ends a sequence.
const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C', 'H'].map((c) => c.charCodeAt(0)));
const SYNC = 'S'.charCodeAt(0);

/**
 * pglite-socket (0.2.x) queues protocol messages from all sockets into the one PGlite session and
 * pins the session to one socket only while `db.isInTransaction()`. An extended-protocol query
 * (Parse, Bind, Execute, Sync — what pg sends for every parameterised query) is not a transaction,
 * so two sockets' messages interleave and one binds the other's unnamed statement: wrong rows or
 * `portal "" does not exist` (electric-sql/pglite#1046, #977). Reporting "in transaction" from
 * the first message of a sequence until its Sync makes the server's own affinity rule keep the
 * sequence together. Methods are bound to the real instance because PGlite keeps private state.
 */
function withExtendedQueryAffinity(db: PGlite): PGlite {
  let inSequence = false;
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'isInTransaction') return () => inSequence || target.isInTransaction();
      if (prop === 'execProtocolRawStream') {
        return (message: Uint8Array, options: Parameters<PGlite['execProtocolRawStream']>[1]) => {
          const type = message[0];
          if (type === SYNC) inSequence = false;
          else if (type !== undefined && EXTENDED.has(type)) inSequence = true;
          return target.execProtocolRawStream(message, options);
        };
      }
      if (prop === 'exec') {
        // Used by the server to roll back after a socket disconnects mid-transaction; that also
        // abandons any half-sent extended sequence.
        return (...args: Parameters<PGlite['exec']>) => {
          inSequence = false;
          return target.exec(...args);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
