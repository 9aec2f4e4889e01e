import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { ClusterDatabases } from './databases.js';
import { LOW_LATENCY_DYNAMIC_CONFIG } from '../server-tuning.js';

export type ServiceKind = 'frontend' | 'matching' | 'worker' | 'history';

/** One server process: a service kind and its own loopback ports. */
export interface ServiceSpec {
  /** Process name and config env name, e.g. `frontend`, `history-1`. */
  name: string;
  kind: ServiceKind;
  grpcPort: number;
  membershipPort: number;
}

export interface ClusterLayout {
  shards: number;
  namespace: string;
  frontend: ServiceSpec;
  matching: ServiceSpec;
  worker: ServiceSpec;
  history: ServiceSpec[];
}

// What a test cluster needs beyond the defaults. Search attributes are read through (as the dev
// server does) so a suite can use them right after creating them instead of waiting a minute for
// the cache; the persistence QPS limits rise with it, as the CLI's dev server does too.
const DYNAMIC_CONFIG: Record<string, unknown> = {
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  'frontend.persistenceMaxQPS': 10000,
  'history.persistenceMaxQPS': 45000,
  'frontend.namespaceRPS': 10000,
  'frontend.rps': 10000,
  ...LOW_LATENCY_DYNAMIC_CONFIG,
};

function rpc(s: ServiceSpec) {
  // No httpPort: the HTTP API is off, so no second fixed port per frontend.
  return { rpc: { grpcPort: s.grpcPort, membershipPort: s.membershipPort, bindOnLocalHost: true } };
}

function datastore(dbs: ClusterDatabases, database: string, maxConns: number) {
  const t = dbs.target;
  return {
    sql: {
      pluginName: 'postgres12',
      databaseName: database,
      connectAddr: `${t.host}:${t.port}`,
      connectProtocol: 'tcp',
      user: t.user,
      password: t.password,
      maxConns,
      maxIdleConns: Math.min(2, maxConns),
      maxConnLifetime: '1h',
    },
  };
}

/**
 * The static config of one process. Every process sees every service kind (the server validates
 * that the started one is present), with its own ports for its own kind; peers are found through
 * membership rows in the persistence database, not through this file. No metrics and no pprof
 * section: both would otherwise bind the same fixed port in every process.
 */
export function serverConfig(layout: ClusterLayout, self: ServiceSpec, dbs: ClusterDatabases, dynamicConfigFile: string) {
  const services: Record<ServiceKind, ServiceSpec> = {
    frontend: layout.frontend,
    matching: layout.matching,
    worker: layout.worker,
    history: layout.history[0],
  };
  services[self.kind] = self;
  const frontendAddress = `127.0.0.1:${layout.frontend.grpcPort}`;
  return {
    log: { stdout: true, level: 'warn', format: 'json' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: layout.shards,
      // Small pools: five or more processes share one PostgreSQL (max_connections 100 by default)
      // with the workers and tests; history hosts do most of the persistence work.
      datastores: {
        'postgres-default': datastore(dbs, dbs.persistence, self.kind === 'history' ? 8 : 4),
        'postgres-visibility': datastore(dbs, dbs.visibility, 2),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: Object.fromEntries(Object.entries(services).map(([kind, s]) => [kind, rpc(s)])),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontendAddress } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

export function dynamicConfigYaml(extra: Record<string, unknown> = {}): string {
  const values = { ...DYNAMIC_CONFIG, ...extra };
  return stringify(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, [{ value: v }]])));
}

/** Writes the dynamic config and `<root>/config/<name>.yaml` per process (`--env <name>` picks one). */
export function writeClusterConfig(root: string, layout: ClusterLayout, dbs: ClusterDatabases): string {
  const dir = path.join(root, 'config');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, DYNAMIC_CONFIG_FILE), dynamicConfigYaml());
  for (const s of allServices(layout)) writeServiceConfig(dir, layout, s, dbs);
  return dir;
}

const DYNAMIC_CONFIG_FILE = 'dynamicconfig.yaml';

/** One process's file; also used for a host added to a running cluster. */
export function writeServiceConfig(dir: string, layout: ClusterLayout, self: ServiceSpec, dbs: ClusterDatabases): void {
  const config = serverConfig(layout, self, dbs, path.join(dir, DYNAMIC_CONFIG_FILE));
  // 0600: the file holds the database password when there is one.
  writeFileSync(path.join(dir, `${self.name}.yaml`), stringify(config), { mode: 0o600 });
}

export function allServices(layout: ClusterLayout): ServiceSpec[] {
  return [layout.frontend, ...layout.history, layout.matching, layout.worker];
}
