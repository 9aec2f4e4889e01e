import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** PIDs of live (non-zombie) processes for which `matches(pid)` holds; unreadable ones are skipped. */
function liveProcesses(matches: (pid: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // zombies hold no resources
      if (matches(entry)) pids.push(Number(entry));
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return pids;
}

/** PIDs of live processes whose environment holds NAME=value (grandchildren inherit it too). */
export function processesWithEnv(name: string, value: string): number[] {
  const needle = `${name}=${value}`;
  return liveProcesses((pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(needle));
}

/** PIDs of live processes whose working directory is inside `dir` (a step's workspace, say). */
export function processesInside(dir: string): number[] {
  const prefix = `${path.resolve(dir)}/`;
  return liveProcesses((pid) => `${readlinkSync(`/proc/${pid}/cwd`)}/`.startsWith(prefix));
}

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
