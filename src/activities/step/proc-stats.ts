import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';

// Reads process facts from Linux /proc. Synchronous on purpose: a scan of a few hundred tiny
// files is a couple of milliseconds synchronously and several times that through the
// thread pool, and callers need a consistent snapshot rather than interleaved reads.

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  /** R, S, D, Z, T, ... (Z = zombie: exited, not yet reaped; holds no memory). */
  state: string;
  /** Field 22: start time in clock ticks since boot; with the pid it identifies one process forever. */
  startTime: number;
  rssBytes: number;
}

let pageSizeCache: number | undefined;

/** The kernel's page size, from the auxiliary vector (AT_PAGESZ = 6); 4096 if unreadable. */
export function pageSize(): number {
  if (pageSizeCache !== undefined) return pageSizeCache;
  pageSizeCache = 4096;
  try {
    const auxv = readFileSync('/proc/self/auxv');
    for (let off = 0; off + 16 <= auxv.length; off += 16) {
      const type = auxv.readBigUInt64LE(off);
      if (type === 0n) break;
      if (type === 6n) {
        pageSizeCache = Number(auxv.readBigUInt64LE(off + 8));
        break;
      }
    }
  } catch {
    // not Linux or not readable; the default is right for x86_64 and most arm64 kernels
  }
  return pageSizeCache;
}

// Positions after the command name of the fields read (0 is field 3, state; then ppid, pgrp,
// starttime, rss). Walked with indexOf rather than split: a /proc pass parses hundreds of lines
// for five of their fifty fields, and the split's fifty strings were a third of the pass.
const STAT_FIELDS = [0, 1, 2, 19, 21];

/** Parses /proc/<pid>/stat text; the command name may hold spaces and parentheses. */
export function parseStat(pid: number, text: string): ProcStat {
  const v: string[] = [];
  let at = text.lastIndexOf(')') + 2;
  for (let i = 0, w = 0; w < STAT_FIELDS.length && at > 0; i++) {
    const end = text.indexOf(' ', at);
    if (i === STAT_FIELDS[w]) {
      v.push(text.slice(at, end === -1 ? text.length : end));
      w++;
    }
    at = end + 1;
  }
  return {
    pid,
    state: v[0]!,
    ppid: Number(v[1]),
    pgrp: Number(v[2]),
    startTime: Number(v[3]),
    rssBytes: Number(v[4]) * pageSize(),
  };
}

// A stat line is a few hundred bytes; one read into a reused buffer skips readFileSync's fstat
// and allocation, which matters when a scan reads hundreds of them.
const statBuf = Buffer.alloc(4096);

export function readStat(pid: number): ProcStat | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/stat`, 'r');
    const n = readSync(fd, statBuf, 0, statBuf.length, 0);
    return parseStat(pid, statBuf.toString('latin1', 0, n));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Start time of a live process, or undefined if there is no such process. */
export function startTimeOf(pid: number): number | undefined {
  return readStat(pid)?.startTime;
}

/** Every process on the system (one pass over /proc). */
export function scanProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const stat = readStat(Number(entry));
    if (stat) out.push(stat);
  }
  return out;
}

const isLive = (p: ProcStat) => p.state !== 'Z' && p.state !== 'X';

/** Members of a process group that are still alive (zombies excluded: they are dead, only unreaped). */
export function liveGroupMembers(pgid: number): ProcStat[] {
  return scanProcesses().filter((p) => p.pgrp === pgid && isLive(p));
}

let nextScan: Promise<Map<number, ProcStat[]>> | undefined;

/**
 * Live processes by process group, from one /proc pass shared by every caller that asks before
 * the pass starts (it starts on the next turn of the event loop, so it is never older than the
 * request). A pass costs a few ms of the worker's only thread; steps that end or sample in the
 * same turn now pay for one between them instead of one each.
 */
export function liveGroups(): Promise<Map<number, ProcStat[]>> {
  nextScan ??= new Promise((resolve, reject) =>
    setImmediate(() => {
      nextScan = undefined;
      try {
        const groups = new Map<number, ProcStat[]>();
        for (const p of scanProcesses()) {
          if (!isLive(p)) continue;
          const members = groups.get(p.pgrp);
          if (members) members.push(p);
          else groups.set(p.pgrp, [p]);
        }
        resolve(groups);
      } catch (err) {
        reject(err as Error);
      }
    }),
  );
  return nextScan;
}

/** liveGroupMembers from a shared pass (liveGroups). */
export async function liveGroupMembersShared(pgid: number): Promise<ProcStat[]> {
  return (await liveGroups()).get(pgid) ?? [];
}

export function readCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return undefined;
  }
}

export function readEnviron(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  } catch {
    return undefined;
  }
}

/** The kernel's count of OOM kills since boot; a rise during a step makes "killed by OOM" likely. */
export function oomKillCount(): number | undefined {
  try {
    const m = /^oom_kill (\d+)$/m.exec(readFileSync('/proc/vmstat', 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

let recentOom: { at: number; count: number | undefined } | undefined;

/**
 * oomKillCount, reusing a reading up to maxAgeMs old: for the count before a step, where the
 * kernel formatting all of /proc/vmstat per step start cost a busy worker more than the evidence
 * is worth; the price is that a kill up to maxAgeMs before the step counts as during it.
 */
export function recentOomKillCount(maxAgeMs: number): number | undefined {
  const now = performance.now();
  if (!recentOom || now - recentOom.at > maxAgeMs) recentOom = { at: now, count: oomKillCount() };
  return recentOom.count;
}
