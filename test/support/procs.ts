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

const groupsSeen = new Map<string, Set<number>>();

const groupOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
};

/**
 * PIDs of a step's live processes: those whose environment holds NAME=value (grandchildren
 * inherit it too), and every live process of a process group that such a process led when this
 * function saw it. The second part is a step's watchdog: the compiled spawner starts it before the
 * exec that gives the program its environment, so it carries no marker, and a leaked one must
 * still be seen after every marked process is gone. Only groups a marked process leads count:
 * a marked process in someone else's group (a test runner's, say) says nothing about the others.
 */
export function markedProcesses(name: string, value: string): number[] {
  const needle = `${name}=${value}`;
  const marked = (pid: string) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(needle);
  const groups = groupsSeen.get(needle) ?? new Set<number>();
  groupsSeen.set(needle, groups);
  for (const pid of liveProcesses(marked)) {
    try {
      if (groupOf(pid) === pid) groups.add(pid);
    } catch {
      // exited meanwhile
    }
  }
  return liveProcesses((pid) => groups.has(groupOf(Number(pid))) || marked(pid));
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
