import type { Command } from 'commander';
import { connectClient } from '../client/connection.js';

export interface GlobalOptions {
  address?: string;
  namespace?: string;
  taskQueue: string;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** Connects with the global --address/--namespace overriding env and temporal.toml. */
export async function withClient<T>(
  cmd: Command,
  fn: (client: Awaited<ReturnType<typeof connectClient>>['client'], opts: GlobalOptions) => Promise<T>,
): Promise<T> {
  const opts = globalOptions(cmd);
  const { client, connection } = await connectClient({ address: opts.address, namespace: opts.namespace });
  try {
    return await fn(client, opts);
  } finally {
    await connection.close();
  }
}
