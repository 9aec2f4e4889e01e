import { mkdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CheckpointRef } from '../../shared/training/schemas.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import { planRetention, type RetentionPlan } from './retention.js';
import {
  clearStoredCheckpoints,
  deleteStoredCheckpoints,
  deleteUnnamedCheckpoints,
  fetchCheckpoint,
  localRef,
  readStoredManifest,
  uploadCheckpoint,
  writeStoredManifest,
} from './checkpoint-mirror.js';

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

/** Saves the manifest locally and, with a store, where every other worker reads it. */
async function saveManifest(dirs: JobDirs, m: Manifest, store: ArtifactStore | undefined): Promise<void> {
  if (store) await writeStoredManifest(store, dirs, m);
  await writeManifest(dirs.manifest, m);
}

/** With a store, its manifest is the one every attempt agrees on, whichever machine ran the last. */
async function currentManifest(dirs: JobDirs, store: ArtifactStore | undefined): Promise<Manifest | null> {
  return (store ? await readStoredManifest(store, dirs) : null) ?? (await readManifest(dirs.manifest));
}

/**
 * Opens the job directory for one attempt. A directory whose manifest names another owner (or
 * none: a crash before the first manifest) is emptied: its checkpoints must never be resumed by
 * mistake. Checkpoint paths are rewritten to this worker's directory (another worker may have
 * written them).
 */
export async function openJobDir(
  dirs: JobDirs,
  owner: { instance: string; queue: string; jobId: string },
  store?: ArtifactStore,
): Promise<Manifest> {
  await mkdir(dirs.dir, { recursive: true });
  const existing = await currentManifest(dirs, store);
  let manifest: Manifest;
  if (existing && existing.instance === owner.instance) {
    manifest = { ...existing, epoch: existing.epoch + 1, checkpoints: existing.checkpoints.map((c) => localRef(dirs, c)) };
  } else {
    await rm(dirs.checkpoints, { recursive: true, force: true });
    if (store) await clearStoredCheckpoints(store, dirs);
    manifest = { ...owner, epoch: 1, checkpoints: [] };
  }
  await mkdir(dirs.checkpoints, { recursive: true });
  await saveManifest(dirs, manifest, store);
  // The new epoch is saved first: the previous attempt, if it still runs, stops at its next
  // checkpoint (SupersededError) before uploading, so what the manifest does not name now is
  // what a killed attempt left between an upload and its manifest write: garbage that retention,
  // which only sees named checkpoints, would otherwise keep forever.
  if (store && existing?.instance === owner.instance) await deleteUnnamedCheckpoints(store, dirs, manifest);
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
 * Records a new checkpoint (uploaded first, with a store), deletes what retention no longer keeps
 * (from the store too), and saves the manifest. Throws SupersededError (touching nothing) when a
 * newer attempt has opened the directory, on any machine sharing the store.
 */
export async function addCheckpoint(
  dirs: JobDirs,
  manifest: Manifest,
  ref: CheckpointRef,
  keepLast: number,
  keepBest: boolean,
  store?: ArtifactStore,
): Promise<RetentionPlan> {
  const current = await currentManifest(dirs, store);
  if (current && current.epoch !== manifest.epoch) throw new SupersededError(manifest.epoch, current.epoch);
  // Uploaded before the manifest names it: a resuming worker never looks for a missing object.
  if (store) await uploadCheckpoint(store, dirs, ref);
  const plan = planRetention([...manifest.checkpoints.filter((c) => c.step !== ref.step), ref], keepLast, keepBest);
  const removed = plan.remove.filter((old) => old.path !== ref.path);
  for (const old of removed) {
    // Only inside the job's checkpoint directory, whatever a manifest says.
    if (await existsInside(dirs.checkpoints, old.path)) await rm(old.path, { recursive: true, force: true });
  }
  manifest.checkpoints = plan.keep;
  await saveManifest(dirs, manifest, store);
  // After the manifest stops naming them: a crash in between leaves garbage, never a dangling ref.
  if (store) await deleteStoredCheckpoints(store, dirs, removed);
  return plan;
}

/**
 * The checkpoint as a file this worker's trainer can load: in this job directory (under its own
 * path or its name), else downloaded from the store; null when it exists nowhere.
 */
export async function findCheckpoint(dirs: JobDirs, ref: CheckpointRef, store?: ArtifactStore): Promise<CheckpointRef | null> {
  if (await existsInside(dirs.checkpoints, ref.path)) return ref;
  const here = localRef(dirs, ref);
  if (await existsInside(dirs.checkpoints, here.path)) return here;
  return store ? fetchCheckpoint(store, dirs, ref) : null;
}
