import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { dockerClient, dockerEndpoint, pingRuntime } from '../../../src/activities/containers/client.js';

// Starts an Engine-API daemon (podman's service or dockerd) detached in its own session, so it
// serves later commands after the set-up script exits, and waits until it answers /_ping.

async function answers(url: string, timeoutMs = 1500): Promise<boolean> {
  try {
    await pingRuntime(dockerClient(url), dockerEndpoint(url), timeoutMs);
    return true;
  } catch {
    return false;
  }
}

export interface DaemonSpec {
  /** unix:///path the daemon serves. */
  url: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  logFile: string;
  /** How long to wait for the first answer. */
  startTimeoutMs?: number;
}

export async function ensureDaemon(spec: DaemonSpec, log: (m: string) => void): Promise<{ started: boolean; pid?: number }> {
  if (await answers(spec.url)) return { started: false };
  const { socketPath } = dockerEndpoint(spec.url);
  if (socketPath) {
    mkdirSync(path.dirname(socketPath), { recursive: true });
    // A socket file left by a dead daemon makes the new one fail with "address already in use".
    if (existsSync(socketPath)) rmSync(socketPath, { force: true });
  }
  mkdirSync(path.dirname(spec.logFile), { recursive: true });
  const fd = openSync(spec.logFile, 'a');
  const child = spawn(spec.command, spec.args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...spec.env },
  });
  closeSync(fd);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.once('error', () => (exited = -1));
  child.unref();
  const until = Date.now() + (spec.startTimeoutMs ?? 30_000);
  while (Date.now() < until) {
    if (exited !== undefined) break;
    if (await answers(spec.url, 1000)) {
      log(`${spec.command} serving the Engine API on ${spec.url} (pid ${child.pid}, log ${spec.logFile})`);
      if (socketPath && child.pid) writeFileSync(pidFile(socketPath), String(child.pid));
      return { started: true, pid: child.pid };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = readFileSync(spec.logFile, 'utf8').split('\n').slice(-15).join('\n');
  if (exited === undefined) child.kill('SIGKILL');
  throw new Error(
    `${spec.command} ${spec.args.join(' ')} ${exited === undefined ? 'did not answer' : `exited (code ${exited})`} on ${spec.url}; last lines of ${spec.logFile}:\n${tail}`,
  );
}

/** Where ensureDaemon records the daemon it started, so `--stop` ends only that one. */
function pidFile(socketPath: string): string {
  return `${socketPath}.pid`;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Stops a daemon this set-up started (TERM, then KILL after `graceMs`); one it did not start (no
 * pid file: a system Docker, a user's podman) is left alone. Returns whether one was stopped.
 */
export async function stopDaemon(url: string, log: (m: string) => void, graceMs = 15_000): Promise<boolean> {
  const { socketPath } = dockerEndpoint(url);
  if (!socketPath || !existsSync(pidFile(socketPath))) return false;
  const pid = Number(readFileSync(pidFile(socketPath), 'utf8'));
  rmSync(pidFile(socketPath), { force: true });
  if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return false;
  process.kill(pid, 'SIGTERM');
  for (const until = Date.now() + graceMs; alive(pid) && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  log(`stopped the daemon on ${url} (pid ${pid})`);
  return true;
}
