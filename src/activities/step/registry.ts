import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { unlinkIfPresent } from './fs-ops.js';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../config/logger.js';
import { signalGroup, waitDead, waitGroupGone } from './process-group.js';
import { readEnviron, readStat, scanProcesses, startTimeOf, type ProcStat } from './proc-stats.js';

// Every running step is recorded in a file, so that a worker starting after a crash can find
// what its predecessor left behind. The files are slots, one per step a worker runs at once,
// kept open and reused: a record is one pwrite into its slot, and ending it one more (FREE).
// A file per step cost an inode made and freed per step, the dearest file-system call on some
// machines (see workspace-recycler.ts). The watchdog already kills a dead worker's steps; this is
// the second line of defence (watchdog killed too, say by the OOM killer). A record is only
// ever acted on when its owner is provably dead, and a process is only ever killed when it is
// provably the recorded one: same pid AND same start time (a reused pid has a later start), or
// carrying the step's random token in its environment.

export interface StepRecord {
  pid: number;
  pgid: number;
  /** /proc/<pid>/stat field 22 of the step's leader. */
  startTime: number;
  /** Random value in the step's environment (SHEPHERD_STEP_TOKEN), inherited by its descendants. */
  token: string;
  ownerPid: number;
  ownerStartTime: number;
  command: string;
  workspace: string;
  startedAt: string;
}

let ownStartTime: number | undefined;

/** Identity of this worker process: its pid and its start time. */
export function ownerIdentity(): { ownerPid: number; ownerStartTime: number } {
  ownStartTime ??= startTimeOf(process.pid) ?? 0;
  return { ownerPid: process.pid, ownerStartTime: ownStartTime };
}

/** What an ended record's slot holds until its next step. */
const FREE = '{"free":true}';

interface Slot {
  file: string;
  fd: number;
  /** Bytes the slot holds: a shorter record is padded with spaces, so no write ever leaves a stale tail. */
  length: number;
}

export interface RecordedStep {
  readonly slot: Slot;
  readonly idle: Slot[];
}

/** Idle slots per directory and owner (tests record steps for other, made-up owners). */
const idleSlots = new Map<string, Slot[]>();
let slotsMade = 0;

const SLOT_NAME = /^step-(\d+)-(\d+)-slot\d+\.json$/;

function openSlot(procDir: string, owner: Pick<StepRecord, 'ownerPid' | 'ownerStartTime'>): Slot {
  const file = path.join(procDir, `step-${owner.ownerPid}-${owner.ownerStartTime}-slot${slotsMade++}.json`);
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (err) {
    // The directory is made on first use (or again, if something removed it), not checked per step.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(procDir, { recursive: true });
    fd = openSync(file, 'wx');
  }
  return { file, fd, length: 0 };
}

/**
 * One pwrite at offset 0: a record of a few hundred bytes lies within one page, which the kernel
 * copies whole before a SIGKILL can end the writer, so a crash leaves the old record or the new.
 */
function writeSlot(slot: Slot, text: string): void {
  const body = Buffer.from(text);
  const buf = body.length >= slot.length ? body : Buffer.alloc(slot.length, ' ');
  if (buf !== body) body.copy(buf);
  writeSync(slot.fd, buf, 0, buf.length, 0);
  slot.length = buf.length;
}

/** An idle slot whose file still exists (a removed one would hold records nobody can see), or a new one. */
function takeSlot(procDir: string, rec: StepRecord): { slot: Slot; idle: Slot[] } {
  const key = `${procDir}\0${rec.ownerPid}-${rec.ownerStartTime}`;
  let idle = idleSlots.get(key);
  if (!idle) idleSlots.set(key, (idle = []));
  for (let slot = idle.pop(); slot; slot = idle.pop()) {
    if (fstatSync(slot.fd).nlink > 0) return { slot, idle };
    closeSync(slot.fd);
  }
  return { slot: openSlot(procDir, rec), idle };
}

/** Records a running step; the record exists before this returns. */
export function recordStep(procDir: string, rec: StepRecord): RecordedStep {
  const { slot, idle } = takeSlot(procDir, rec);
  try {
    writeSlot(slot, JSON.stringify(rec));
  } catch (err) {
    closeSync(slot.fd);
    throw err;
  }
  return { slot, idle };
}

/** Ends a step's record; its slot waits for the next step. */
export function removeStepRecord(recorded: RecordedStep): void {
  try {
    writeSlot(recorded.slot, FREE);
    recorded.idle.push(recorded.slot);
  } catch {
    // A slot that cannot be written is given up: its file is removed, so no stale record stays.
    closeSync(recorded.slot.fd);
    unlinkIfPresent(recorded.slot.file);
  }
}

/** The very process (pid and start time) is running; a zombie has already exited. */
function isAlive(pid: number, startTime: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.startTime === startTime && stat.state !== 'Z' && stat.state !== 'X';
}

/** Pids of live processes carrying the step's token in their environment (and started no earlier than it). */
function tokenHolders(rec: StepRecord): ProcStat[] {
  const needle = `SHEPHERD_STEP_TOKEN=${rec.token}`;
  return scanProcesses().filter((p) => p.state !== 'Z' && p.startTime >= rec.startTime && readEnviron(p.pid)?.includes(needle));
}

export interface ReapReport {
  /** Records whose owner was dead and which still had live processes, now killed. */
  reaped: number;
  /** Records whose owner was dead and whose processes were already gone. */
  stale: number;
  /** Records of live owners (another worker sharing the directory), left alone. */
  kept: number;
}

/**
 * Kills step processes whose owning worker is dead. Call at worker start-up, before polling.
 * Safe with several workers sharing `procDir`: records of live owners are left alone.
 */
export async function reapOrphans(procDir: string, logger: Logger): Promise<ReapReport> {
  const report: ReapReport = { reaped: 0, stale: 0, kept: 0 };
  let entries: string[];
  try {
    entries = await readdir(procDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw err;
  }
  for (const name of entries) {
    if (!name.startsWith('step-')) continue;
    const file = path.join(procDir, name);
    if (name.endsWith('.tmp')) {
      // A write interrupted by a crash: its step was started just before, so its watchdog
      // (which needs no record) took it down with the worker.
      const [, ownerPid, ownerStartTime] = name.split('-').map(Number);
      if (!isAlive(ownerPid!, ownerStartTime!)) await rm(file, { force: true });
      continue;
    }
    const slotOwner = SLOT_NAME.exec(name);
    if (slotOwner && isAlive(Number(slotOwner[1]), Number(slotOwner[2]))) {
      // A live worker's slot, which it may be writing right now: never removed, counted when in use.
      if ((await readFile(file, 'utf8').catch(() => FREE)).trim() !== FREE) report.kept++;
      continue;
    }
    let rec: StepRecord;
    try {
      const text = await readFile(file, 'utf8');
      if (text.trim() === FREE) {
        await rm(file, { force: true });
        continue;
      }
      rec = JSON.parse(text) as StepRecord;
    } catch (err) {
      logger.warn({ file, err }, 'unreadable step record removed');
      await rm(file, { force: true });
      continue;
    }
    if (isAlive(rec.ownerPid, rec.ownerStartTime)) {
      report.kept++;
      continue;
    }
    const verifiedLeader = isAlive(rec.pid, rec.startTime);
    if (verifiedLeader) {
      // The leader is the very process we recorded, so the group is the step's group.
      signalGroup(rec.pgid, 'SIGKILL');
    }
    // Members that outlived their leader, or escaped the group, still carry the token.
    const holders = tokenHolders(rec);
    for (const p of holders) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    if (verifiedLeader || holders.length > 0) {
      if (verifiedLeader) await waitGroupGone(rec.pgid, 5000);
      await waitDead(holders, 5000);
      report.reaped++;
      logger.warn(
        { stepPid: rec.pid, pgid: rec.pgid, owner: rec.ownerPid, command: rec.command, workspace: rec.workspace },
        'killed step processes left by a dead worker',
      );
    } else {
      report.stale++;
    }
    await rm(file, { force: true });
  }
  if (report.reaped + report.stale > 0) logger.info(report, 'reaped orphaned step records');
  return report;
}
