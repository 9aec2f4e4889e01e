import { Client, Connection } from '@temporalio/client';
import { resolveConnectOptions, type TemporalTarget } from './connection.js';
import { ServerUnreachableError } from './errors.js';
import { clientDataConverter } from '../codec/data-converter.js';

export interface ShepherdConnection {
  client: Client;
  /** The frontend address actually used (after env, temporal.toml and overrides). */
  address: string;
  namespace: string;
  close(): Promise<void>;
}

/**
 * Connects to Temporal as every Shepherd program does (TEMPORAL_* env, temporal.toml profiles,
 * explicit overrides win). Fails within `connectTimeout` (default 3 s) with a
 * ServerUnreachableError naming the address, not after the SDK's 10 s with a bare transport error.
 */
export async function connect(opts: TemporalTarget & { connectTimeout?: string | number } = {}): Promise<ShepherdConnection> {
  const { connectionOptions, namespace } = resolveConnectOptions(opts);
  const address = connectionOptions.address ?? 'localhost:7233';
  // Encrypts and decrypts payloads when SHEPHERD_ENCRYPTION_KEYS is set (src/codec/); built
  // before connecting so a bad key variable leaves nothing open.
  const dataConverter = clientDataConverter();
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions, address, connectTimeout: (opts.connectTimeout ?? '3s') as never });
  } catch (err) {
    throw new ServerUnreachableError(address, err);
  }
  return { client: new Client({ connection, namespace, dataConverter }), address, namespace, close: () => connection.close() };
}
