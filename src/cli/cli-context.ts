import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { connect } from '../client/connect.js';

export interface CliGlobals {
  address?: string;
  namespace?: string;
  taskQueue: string;
}

/** Runs fn with a client (global --address/--namespace win); connection failures name the address in 3 s. */
export async function connected<T>(cmd: Command, fn: (client: Client, g: CliGlobals) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals() as CliGlobals;
  const conn = await connect({ address: g.address, namespace: g.namespace });
  try {
    return await fn(conn.client, g);
  } finally {
    await conn.close();
  }
}

/** JSON (one document on stdout) or human lines. */
export function emit(json: boolean, value: unknown, lines: string[]): void {
  if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
}
