import { accessSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { floorBytes, type DiskFloor } from '../../shared/hygiene/schemas.js';
import { formatBytes } from '../../shared/bytes.js';

// The data-dir disk floor (SHEPHERD_DISK_FLOOR): below it a step does not start, so a full disk
// stops new work with a stated reason instead of failing programs half-way with ENOSPC.
//
// A step under the floor WAITS, heartbeating the reason, rather than failing at once: a failed
// attempt would burn one of the pipeline's retry attempts (experiments often have 2 or 3), while
// a wait costs nothing but a worker slot and starts the step the moment space frees (a cleanup,
// a deleted file, a lowered floor). Only when the attempt's own deadline comes does it fail,
// with the retryable type DiskFloor, so the retry policy backs off and tries again later.

export interface DiskState {
  dir: string;
  freeBytes: number;
  floorBytes: number;
  underFloor: boolean;
}

// Read synchronously: a statfs and an access are one syscall each on a local disk, where a trip
// through the thread pool per replicate start cost a busy worker more than the reads themselves.

/** The directory itself, or its nearest existing ancestor (a runs dir not created yet). */
function existingDir(dir: string): string {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      accessSync(d);
      return d;
    } catch {
      if (d === path.dirname(d)) return d;
    }
  }
}

/** Free and total bytes of the filesystem holding `dir` (free: what unprivileged writers may use). */
export async function diskSpace(dir: string): Promise<{ freeBytes: number; totalBytes: number }> {
  const s = statfsSync(dir);
  return { freeBytes: Number(s.bavail) * Number(s.bsize), totalBytes: Number(s.blocks) * Number(s.bsize) };
}

/** Bytes unprivileged writers may still use on the filesystem holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  return (await diskSpace(dir)).freeBytes;
}

/**
 * Free space where `dir` is (or would be created), against the floor. The one free-space reading
 * of the worker: the training queue's own floor uses freeBytes too.
 */
export async function diskState(dir: string, floor: DiskFloor | undefined): Promise<DiskState> {
  const { freeBytes, totalBytes } = await diskSpace(existingDir(dir));
  const limit = floor ? floorBytes(floor, totalBytes) : 0;
  return { dir, freeBytes, floorBytes: limit, underFloor: freeBytes < limit };
}

export function diskFloorMessage(s: DiskState): string {
  return `disk floor: ${formatBytes(s.freeBytes)} free at ${s.dir}, under the floor of ${formatBytes(s.floorBytes)} (SHEPHERD_DISK_FLOOR); the step does not start until space frees`;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface WaitForDiskOptions {
  dir: string;
  /** Read again on every check, so a lowered floor takes effect on a waiting step. */
  floor: () => DiskFloor | undefined;
  /** Epoch ms: still under the floor then fails the attempt with DiskFloor (retryable). */
  deadline?: number;
  signal?: AbortSignal;
  /** Called with the reason on every check while under the floor (the caller heartbeats it). */
  onWaiting: (reason: string, state: DiskState) => void;
  pollMs?: number;
}

/** Returns once free space is at or above the floor; see the header for why it waits. */
export async function waitForDiskFloor(opts: WaitForDiskOptions): Promise<void> {
  for (;;) {
    const floor = opts.floor();
    if (!floor) return; // no floor configured: no disk reads on every step's start
    const state = await diskState(opts.dir, floor);
    if (!state.underFloor) return;
    const reason = diskFloorMessage(state);
    opts.onWaiting(reason, state);
    const left = opts.deadline === undefined ? Infinity : opts.deadline - Date.now();
    if (left <= 0) throw ApplicationFailure.retryable(reason, 'DiskFloor', state);
    await pause(Math.min(opts.pollMs ?? 1000, left), opts.signal);
  }
}
