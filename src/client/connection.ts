import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { clientDataConverter, tolerantDataConverter } from '../codec/data-converter.js';

export interface TemporalTarget {
  address?: string;
  namespace?: string;
}

// Connection settings come from TEMPORAL_* env and temporal.toml profiles (envconfig);
// explicit overrides win so tests and the embedded stack can point at their own server.
export function resolveConnectOptions(override: TemporalTarget = {}) {
  const config = loadClientConnectConfig();
  const connectionOptions = { ...config.connectionOptions };
  if (override.address) connectionOptions.address = override.address;
  const namespace = override.namespace ?? config.namespace ?? 'default';
  return { connectionOptions, namespace };
}

export async function connectClient(
  override: TemporalTarget = {},
  opts: { reader?: boolean } = {},
): Promise<{ client: Client; connection: Connection }> {
  const { connectionOptions, namespace } = resolveConnectOptions(override);
  // Before connecting: a bad key variable leaves nothing open. A reader (the dashboard) shows an
  // undecodable payload as such instead of failing a whole listing on it.
  const dataConverter = opts.reader ? tolerantDataConverter() : clientDataConverter();
  const connection = await Connection.connect(connectionOptions);
  return { client: new Client({ connection, namespace, dataConverter }), connection };
}
