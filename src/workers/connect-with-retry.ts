import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../config/logger.js';

// A worker started before its server (a machine booting, a deployment rolling the server) must
// not exit with "Connection refused": it waits, retrying with capped exponential backoff, says
// which address it waits for, and starts polling once the server answers. SIGINT/SIGTERM while
// waiting stop it cleanly.

export interface RetryOptions {
  address: string;
  logger: Logger;
  initialMs?: number;
  maxMs?: number;
  signal?: AbortSignal;
}

export async function connectWithRetry<T>(connect: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const initial = opts.initialMs ?? 500;
  const max = opts.maxMs ?? 15_000;
  for (let attempt = 1; ; attempt++) {
    try {
      const c = await connect();
      if (attempt > 1)
        opts.logger.info({ address: opts.address, attempts: attempt }, `connected to the Temporal server at ${opts.address}`);
      return c;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const delay = Math.min(max, initial * 2 ** (attempt - 1));
      opts.logger.warn(
        { address: opts.address, attempt, retryInMs: delay, err: (err as Error).message },
        `waiting for the Temporal server at ${opts.address} (attempt ${attempt} failed; next in ${delay} ms)`,
      );
      await sleep(delay, undefined, { signal: opts.signal }).catch(() => undefined);
      if (opts.signal?.aborted) throw err;
    }
  }
}

/** Aborted by the first SIGINT or SIGTERM; the listeners go once the wait is over. */
export function abortOnSignals(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: ac.signal,
    dispose() {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}
