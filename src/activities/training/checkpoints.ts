import { mkdir, readFile, realpath, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CheckpointRef } from '../../shared/training/schemas.js';
import { planRetention, type RetentionPlan } from './retention.js';

// A job's directory: `<trainingRoot>/<queue>/<jobId>/<instance>/` with `checkpoints/` (written
// by the trainer) and `manifest.json` (written by Shepherd: which checkpoints exist, their val
// loss, which enqueue owns them). One directory per enqueue, so a later job reusing a job ID
// never touches an earlier job's models. It lives outside the per-attempt workspace because a
// retry, maybe on another worker, must find it: with workers on several machines it must be
// shared storage.

/** `<data dir>/training`: next to the runs directory, like the results exports. */
export function trainingRoot(runsDir: string): string {
  return path.join(path.dirname(path.resolve(runsDir)), 'training');
}

export interface JobDirs {
  dir: string;
  checkpoints: string;
  manifest: string;
}

export function jobDirs(root: string, queue: string, jobId: string, instance: string): JobDirs {
  const dir = path.join(root, encodeURIComponent(queue), encodeURIComponent(jobId), encodeURIComponent(instance));
  return { dir, checkpoints: path.join(dir, 'checkpoints'), manifest: path.join(dir, 'manifest.json') };
}

export interface Manifest {
  /** The enqueue that owns this directory; a new enqueue of the same jobId starts clean. */
  instance: string;
  queue: string;
  jobId: string;
  /** Incremented by every attempt that opens the directory; a superseded attempt stops writing. */
  epoch: number;
  checkpoints: CheckpointRef[];
}

export class SupersededError extends Error {
  constructor(epoch: number, current: number) {
    super(`a newer attempt (epoch ${current}) owns the checkpoint directory; this attempt (epoch ${epoch}) stops`);
    this.name = 'SupersededError';
  }
}

export async function readManifest(file: string): Promise<Manifest | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Manifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}

export async function writeManifest(file: string, m: Manifest): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(m, null, 2));
  await rename(tmp, file);
}

/**
 * Opens the job directory for one attempt. A directory whose manifest names another owner (or
 * none: a crash before the first manifest) is emptied: its checkpoints must never be resumed by
 * mistake.
 */
export async function openJobDir(dirs: JobDirs, owner: { instance: string; queue: string; jobId: string }): Promise<Manifest> {
  await mkdir(dirs.dir, { recursive: true });
  const existing = await readManifest(dirs.manifest);
  let manifest: Manifest;
  if (existing && existing.instance === owner.instance) {
    manifest = { ...existing, epoch: existing.epoch + 1 };
  } else {
    await rm(dirs.checkpoints, { recursive: true, force: true });
    manifest = { ...owner, epoch: 1, checkpoints: [] };
  }
  await mkdir(dirs.checkpoints, { recursive: true });
  await writeManifest(dirs.manifest, manifest);
  return manifest;
}

export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** True when `p` exists and resolves (symlinks followed) inside `dir`. */
export async function existsInside(dir: string, p: string): Promise<boolean> {
  try {
    const [root, real] = await Promise.all([realpath(dir), realpath(path.resolve(dir, p))]);
    return real.startsWith(root + path.sep);
  } catch {
    return false;
  }
}

/** Bytes available to unprivileged writers on the filesystem holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/**
 * Records a new checkpoint, deletes what retention no longer keeps, and saves the manifest.
 * Throws SupersededError (touching nothing) when a newer attempt has opened the directory.
 */
export async function addCheckpoint(dirs: JobDirs, manifest: Manifest, ref: CheckpointRef, keepLast: number, keepBest: boolean): Promise<RetentionPlan> {
  const onDisk = await readManifest(dirs.manifest);
  if (onDisk && onDisk.epoch !== manifest.epoch) throw new SupersededError(manifest.epoch, onDisk.epoch);
  const plan = planRetention([...manifest.checkpoints.filter((c) => c.step !== ref.step), ref], keepLast, keepBest);
  for (const old of plan.remove) {
    // Only inside the job's checkpoint directory, whatever a manifest says.
    if (old.path !== ref.path && (await existsInside(dirs.checkpoints, old.path))) await rm(old.path, { recursive: true, force: true });
  }
  manifest.checkpoints = plan.keep;
  await writeManifest(dirs.manifest, manifest);
  return plan;
}

