import { cpSync, existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { cacheRoot, goBinary, isExecutable } from '../temporal-cli.js';

export const TEMPORAL_SERVER_VERSION = '1.29.1';
const MODULE = 'go.temporal.io/server';
const SCHEMA_SUBDIR = path.join('schema', 'postgresql', 'v12');

export interface ServerTools {
  /** The `server` binary (all services; `start --service X` picks one). */
  server: string;
  /** The SQL schema tool (`temporal-sql-tool` in the admin-tools image). */
  sql: string;
  /** `.../schema/postgresql/v12`, holding `temporal/versioned` and `visibility/versioned`. */
  schemaDir: string;
}

/** Next to the CLI's cache, so a fresh clone and CI reuse the multi-minute Go build. */
export function serverCacheDir(): string {
  return path.join(cacheRoot(), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

function cached(): ServerTools {
  const dir = serverCacheDir();
  return { server: path.join(dir, 'server'), sql: path.join(dir, 'sql'), schemaDir: path.join(dir, SCHEMA_SUBDIR) };
}

const complete = (t: ServerTools) =>
  isExecutable(t.server) && isExecutable(t.sql) && existsSync(path.join(t.schemaDir, 'temporal', 'versioned'));

/**
 * Finds the Temporal server, its SQL schema tool and the PostgreSQL schema, building the pinned
 * release with Go when missing. TEMPORAL_SERVER_DIR points at a directory already holding all
 * three (same layout as the cache), e.g. extracted from a release or the admin-tools image.
 */
export async function ensureTemporalServer(log: (msg: string) => void = (m) => console.error(m)): Promise<ServerTools> {
  const explicit = process.env.TEMPORAL_SERVER_DIR;
  if (explicit) {
    const tools = { server: path.join(explicit, 'server'), sql: path.join(explicit, 'sql'), schemaDir: path.join(explicit, SCHEMA_SUBDIR) };
    if (!complete(tools))
      throw new Error(`TEMPORAL_SERVER_DIR=${explicit} must hold executables server and sql and ${SCHEMA_SUBDIR}/temporal/versioned`);
    return tools;
  }
  const tools = cached();
  if (complete(tools)) return tools;

  const go = await goBinary();
  if (!go) {
    throw new Error(
      `The Temporal server ${TEMPORAL_SERVER_VERSION} is not in ${serverCacheDir()} and Go is not installed to build it. ` +
        'Install Go 1.24+ (https://go.dev/dl/), or set TEMPORAL_SERVER_DIR to a directory holding server, sql and schema/postgresql/v12.',
    );
  }
  mkdirSync(serverCacheDir(), { recursive: true });
  if (!isExecutable(tools.server) || !isExecutable(tools.sql)) {
    log(
      `Building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool with Go into ${serverCacheDir()} (first run only; ~4 min, ~1.6 GB RAM)...`,
    );
    await execa(
      go,
      ['install', `${MODULE}/cmd/server@v${TEMPORAL_SERVER_VERSION}`, `${MODULE}/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`],
      {
        env: { GOBIN: serverCacheDir(), CGO_ENABLED: '0' },
        stdio: ['ignore', 'inherit', 'inherit'],
        cwd: os.tmpdir(),
      },
    );
  }
  // The schema ships as files in the module, not in the binary: copy it next to the binaries so
  // the cache stands alone even after `go clean -modcache`.
  cpSync(path.join(await temporalModuleDir(go), SCHEMA_SUBDIR), tools.schemaDir, { recursive: true });
  if (!complete(tools)) throw new Error(`building the Temporal server finished but ${serverCacheDir()} is incomplete`);
  return tools;
}

/** The server's Go module source (schema, the Docker image's config template), downloaded if needed. */
export async function temporalModuleDir(go?: string): Promise<string> {
  const bin = go ?? (await goBinary());
  if (!bin) throw new Error('Go is needed to locate the go.temporal.io/server module');
  const { stdout } = await execa(bin, ['mod', 'download', '-json', `${MODULE}@v${TEMPORAL_SERVER_VERSION}`], {
    cwd: os.tmpdir(),
    env: { GOFLAGS: '-mod=mod' },
  });
  const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (!dir || !existsSync(path.join(dir, SCHEMA_SUBDIR)))
    throw new Error(`the ${MODULE}@v${TEMPORAL_SERVER_VERSION} module has no ${SCHEMA_SUBDIR}`);
  return dir;
}
