import path from 'node:path';
import type { CheckpointRef } from '../../shared/training/schemas.js';
import { keyUnder, type ArtifactStore } from '../../storage/artifact-store.js';
import type { JobDirs, Manifest } from '../../storage/training-layout.js';
import { deletePath, putPath } from '../../storage/store-paths.js';

// A job's checkpoints and manifest mirrored to an artifact store, so that the worker that
// resumes a job (another machine, another data dir) finds them. The local job directory stays
// the trainer's working copy; the store's manifest is the one every attempt agrees on.

const manifestKey = (dirs: JobDirs) => `${dirs.key}/manifest.json`;
const checkpointsKey = (dirs: JobDirs) => `${dirs.key}/checkpoints`;

/**
 * A checkpoint's path relative to its job's checkpoint directory, on whichever machine wrote it:
 * refs carry absolute paths, and another worker's data dir differs.
 */
export function checkpointName(dirs: JobDirs, ref: CheckpointRef): string {
  const local = path.relative(dirs.checkpoints, ref.path);
  if (!local.startsWith('..') && !path.isAbsolute(local)) return local;
  const marker = `${path.sep}${path.basename(dirs.dir)}${path.sep}checkpoints${path.sep}`;
  const at = ref.path.lastIndexOf(marker);
  return at >= 0 ? ref.path.slice(at + marker.length) : path.basename(ref.path);
}

/** The ref as it lives in this worker's job directory. */
export function localRef(dirs: JobDirs, ref: CheckpointRef): CheckpointRef {
  return { ...ref, path: path.join(dirs.checkpoints, checkpointName(dirs, ref)) };
}

export async function readStoredManifest(store: ArtifactStore, dirs: JobDirs): Promise<Manifest | null> {
  const text = await store.getText(manifestKey(dirs));
  if (text === null) return null;
  try {
    return JSON.parse(text) as Manifest;
  } catch {
    return null;
  }
}

export async function writeStoredManifest(store: ArtifactStore, dirs: JobDirs, m: Manifest): Promise<void> {
  await store.putText(manifestKey(dirs), JSON.stringify(m, null, 2));
}

/** Uploads a checkpoint (a file, or a directory of files) under its name. */
export async function uploadCheckpoint(store: ArtifactStore, dirs: JobDirs, ref: CheckpointRef): Promise<void> {
  await putPath(store, keyUnder(checkpointsKey(dirs), checkpointName(dirs, ref)), ref.path);
}

/** Downloads a checkpoint into this worker's job directory; null when the store does not hold it. */
export async function fetchCheckpoint(store: ArtifactStore, dirs: JobDirs, ref: CheckpointRef): Promise<CheckpointRef | null> {
  const target = localRef(dirs, ref);
  const base = keyUnder(checkpointsKey(dirs), checkpointName(dirs, ref));
  if (await store.getFile(base, target.path)) return target;
  const files = await store.list(base);
  if (files.length === 0) return null;
  for (const key of files)
    await store.getFile(
      key,
      path.join(
        target.path,
        ...key
          .slice(base.length + 1)
          .split('/')
          .map(decodeURIComponent),
      ),
    );
  return target;
}

/** Deletes checkpoints (files or directories) from the store. */
export async function deleteStoredCheckpoints(store: ArtifactStore, dirs: JobDirs, refs: readonly CheckpointRef[]): Promise<void> {
  for (const ref of refs) await deletePath(store, keyUnder(checkpointsKey(dirs), checkpointName(dirs, ref)));
}

/** Every checkpoint object of the job: when a directory changes owner, all of them go. */
export async function clearStoredCheckpoints(store: ArtifactStore, dirs: JobDirs): Promise<void> {
  await store.delete(await store.list(checkpointsKey(dirs)));
}

/**
 * Deletes every stored checkpoint object the manifest does not name: what an attempt killed
 * between uploading a checkpoint and naming it (or between the manifest and a retention delete)
 * left behind. Only for the attempt that owns the manifest's epoch.
 */
export async function deleteUnnamedCheckpoints(store: ArtifactStore, dirs: JobDirs, m: Manifest): Promise<void> {
  const named = m.checkpoints.map((c) => keyUnder(checkpointsKey(dirs), checkpointName(dirs, c)));
  await store.delete((await store.list(checkpointsKey(dirs))).filter((key) => !named.some((n) => key === n || key.startsWith(`${n}/`))));
}
