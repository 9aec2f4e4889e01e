import type { Readable } from 'node:stream';
import { stepSpawner, WATCHDOG_TAG, type ProgramExit } from './spawner/client.js';
import { liveGroupMembers, liveGroupMembersShared, readCmdline, readStat, type ProcStat } from './proc-stats.js';

// One step = one process group (the leader of a session of its own), so everything the
// program forks can be signalled at once with kill(-pgid).
//
// The group leader forks a watchdog and then execs the program (same pid, so the worker still
// sees the program's own exit code and signal). The watchdog blocks reading fd 3, a socket whose
// only other end is held by the worker. When the worker dies, even by SIGKILL, the kernel closes
// that end, the read returns, and the watchdog SIGKILLs its whole group: grandchildren included,
// whatever they do with SIGTERM. The watchdog ignores SIGTERM so that it outlives a graceful stop
// and keeps the group id reserved until the group is gone. On top, the program itself gets
// PR_SET_PDEATHSIG=SIGKILL, which covers the (tiny) window before the watchdog is forked. The
// step spawner (spawner/) forks the leader and sets it up (spawner/shepherd-spawn.c), or has
// setpriv and sh do it (spawner/helper.mjs with launcher/launcher.ts), and gives the worker the
// pipes, the lifeline included.

export { WATCHDOG_TAG };

export interface SpawnedGroup {
  /** Pid of the program (also the group id). */
  pid: number;
  pgid: number;
  /** The program's start time in clock ticks since boot, when the spawner reported it. */
  startTime?: number;
  stdout: Readable;
  stderr: Readable;
  /** Resolves when the program itself exits (other group members may live on). */
  exited: Promise<ProgramExit>;
  /** Releases the watchdog's lifeline: the watchdog then SIGKILLs whatever is left in the group. */
  release(): void;
  /** Resolves when stdout and stderr are closed. */
  settled: Promise<unknown>;
}

/**
 * Starts `file args` as the leader of a new process group guarded by a watchdog, through the
 * worker's step spawner, so the fork happens in a small process.
 */
export async function spawnGroup(
  file: string,
  args: readonly string[],
  opts: { cwd: string; env: Record<string, string> },
): Promise<SpawnedGroup> {
  const program = await stepSpawner().spawn(file, args, opts);
  const { stdout, stderr, lifeline } = program;
  // The watchdog never writes; this only keeps an EPIPE/ECONNRESET on teardown from being
  // unhandled. Its writable side must stay open: ending it would end the watchdog's read.
  lifeline.on('error', () => undefined);
  const closed = (s: Readable) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));
  return {
    pid: program.pid,
    pgid: program.pid,
    ...(program.startTime === undefined ? {} : { startTime: program.startTime }),
    stdout,
    stderr,
    exited: program.exited,
    release: () => lifeline.destroy(),
    settled: Promise.all([closed(stdout), closed(stderr)]),
  };
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function isWatchdog(pid: number): boolean {
  return readCmdline(pid)?.includes(`\0${WATCHDOG_TAG}\0`) ?? false;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True once no process of the group is alive (zombies count as dead: they only await reaping). */
export function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  return liveGroupMembers(pgid).length === 0;
}

export async function waitGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    if (groupGone(pgid)) return true;
    if (Date.now() >= until) return false;
    await sleep(delay);
  }
}

/** Waits until each process (pid + start time) has exited; zombies count as exited. */
export async function waitDead(procs: readonly ProcStat[], timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
    const alive = procs.some((p) => {
      const now = readStat(p.pid);
      return now !== undefined && now.startTime === p.startTime && now.state !== 'Z' && now.state !== 'X';
    });
    if (!alive) return true;
    if (Date.now() >= until) return false;
    await sleep(delay);
  }
}

/**
 * Stops the group: SIGTERM, up to `graceMs` for its processes to exit, SIGKILL to whatever is
 * left, then waits until they are gone. The watchdog ignores SIGTERM and is not waited for
 * during the grace period; the SIGKILL takes it too. When only the watchdog is left (the usual
 * end of a step that exited by itself) this costs one /proc scan.
 */
export async function stopGroup(pgid: number, graceMs: number, hooks: { onKill?: (survivors: number[]) => void } = {}): Promise<boolean> {
  let members = await liveGroupMembersShared(pgid);
  let survivors = members.filter((p) => !isWatchdog(p.pid));
  if (survivors.length === 0) {
    signalGroup(pgid, 'SIGKILL');
    return waitDead(members, 10_000);
  }
  signalGroup(pgid, 'SIGTERM');
  const until = Date.now() + graceMs;
  for (let delay = 2; survivors.length > 0 && Date.now() < until; delay = Math.min(delay * 2, 50)) {
    await sleep(Math.min(delay, Math.max(1, until - Date.now())));
    members = await liveGroupMembersShared(pgid);
    survivors = members.filter((p) => !isWatchdog(p.pid));
  }
  if (survivors.length > 0) hooks.onKill?.(survivors.map((p) => p.pid));
  signalGroup(pgid, 'SIGKILL');
  return (await waitDead(members, 10_000)) && waitGroupGone(pgid, 10_000);
}
