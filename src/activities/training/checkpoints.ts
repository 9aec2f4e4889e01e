import { mkdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CheckpointRef } from '../../shared/training/schemas.js';
import { planRetention, type RetentionPlan } from './retention.js';

export { trainingRoot, jobDirs, readManifest, type JobDirs, type Manifest } from '../../storage/training-layout.js';
import { readManifest, type JobDirs, type Manifest } from '../../storage/training-layout.js';

export class SupersededError extends Error {
  constructor(epoch: number, current: number) {
    super(`a newer attempt (epoch ${current}) owns the checkpoint directory; this attempt (epoch ${epoch}) stops`);
    this.name = 'SupersededError';
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

/**
 * Records a new checkpoint, deletes what retention no longer keeps, and saves the manifest.
 * Throws SupersededError (touching nothing) when a newer attempt has opened the directory.
 */
export async function addCheckpoint(
  dirs: JobDirs,
  manifest: Manifest,
  ref: CheckpointRef,
  keepLast: number,
  keepBest: boolean,
): Promise<RetentionPlan> {
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
