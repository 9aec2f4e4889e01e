import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import type { ServerTools } from './server-build.js';

/** Where the cluster's databases are created: any database on the server works as the admin one. */
export const CLUSTER_ADMIN_URL =
  process.env.SHEPHERD_CLUSTER_PG_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface SqlTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface ClusterDatabases {
  target: SqlTarget;
  /** Persistence (executions, shards, task queues, membership). */
  persistence: string;
  /** SQL visibility (list/count workflows, search attributes). */
  visibility: string;
  drop(): Promise<void>;
}

export function sqlTarget(url = CLUSTER_ADMIN_URL): SqlTarget {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password),
  };
}

/**
 * Two fresh, uniquely named databases migrated with the server's own schema tool, the way an
 * operator sets up a real cluster: create, setup-schema -v 0.0 (the version table), then
 * update-schema through every versioned step shipped with this server release.
 */
export async function createClusterDatabases(tools: ServerTools, prefix = 'shepherd_cluster'): Promise<ClusterDatabases> {
  const id = `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`;
  if (!/^[a-z0-9_]+$/.test(id)) throw new Error(`invalid cluster database name ${id}`);
  const target = sqlTarget();
  const persistence = `${id}_temporal`;
  const visibility = `${id}_visibility`;
  const dbs = { target, persistence, visibility, drop: () => dropDatabases(target, [persistence, visibility]) };
  try {
    await migrate(tools, target, persistence, path.join(tools.schemaDir, 'temporal', 'versioned'));
    await migrate(tools, target, visibility, path.join(tools.schemaDir, 'visibility', 'versioned'));
  } catch (err) {
    await dbs.drop().catch(() => undefined);
    throw err;
  }
  return dbs;
}

async function migrate(tools: ServerTools, t: SqlTarget, database: string, versionedDir: string): Promise<void> {
  const common = ['--plugin', 'postgres12', '--endpoint', t.host, '--port', String(t.port), '--user', t.user, '--database', database];
  // The password goes by env (SQL_PASSWORD), never on a command line other users can read.
  const env = { SQL_PASSWORD: t.password };
  const run = (args: string[]) =>
    execa(tools.sql, [...common, ...args], { env, all: true }).catch((err: Error & { all?: string }) => {
      throw new Error(`temporal sql tool ${args[0]} on ${database} failed: ${err.all ?? err.message}`);
    });
  await run(['create-database', '--defaultdb', 'postgres']);
  await run(['setup-schema', '-v', '0.0']);
  await run(['update-schema', '-d', versionedDir]);
}

async function dropDatabases(t: SqlTarget, names: string[]): Promise<void> {
  const client = new pg.Client({ host: t.host, port: t.port, user: t.user, password: t.password || undefined, database: 'postgres' });
  await client.connect();
  try {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
