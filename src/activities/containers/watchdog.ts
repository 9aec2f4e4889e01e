import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../config/logger.js';
import { dockerEndpoint } from './client.js';
import { workerIdentity } from './labels.js';

// One watchdog per worker process and runtime endpoint (see watchdog-main.mjs): it outlives a
// SIGKILLed worker (own session, ignores SIGTERM) and removes that worker's containers within
// moments, instead of waiting for the next worker to start up and reap them.

const MAIN = fileURLToPath(new URL('./watchdog-main.mjs', import.meta.url));
const running = new Map<string, ChildProcess>();

export function ensureContainerWatchdog(dockerHost: string | undefined, logger?: Logger): { pid: number } {
  const { url } = dockerEndpoint(dockerHost);
  const existing = running.get(url);
  if (existing && existing.exitCode === null && existing.signalCode === null && existing.pid) return { pid: existing.pid };
  const child = spawn(process.execPath, [MAIN, workerIdentity().id, url], {
    detached: true,
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.on('error', (err) => logger?.error({ err }, 'container watchdog could not start'));
  child.on('exit', (code, signal) => {
    if (running.get(url) === child) running.delete(url);
    logger?.warn({ code, signal }, 'container watchdog exited');
  });
  // Neither the child nor its pipe may keep the worker's event loop alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  child.stdin!.on('error', () => undefined);
  running.set(url, child);
  return { pid: child.pid! };
}
