import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CheckpointRef } from '../shared/training/schemas.js';
import { artifactKey } from './artifact-store.js';

// Where training checkpoints live on disk: shared by the training activity that writes them and
// the dashboard that reads them (which must not import activities).

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
  /** The same directory's key in an artifact store: `training/<queue>/<jobId>/<instance>`. */
  key: string;
}

export function jobDirs(root: string, queue: string, jobId: string, instance: string): JobDirs {
  const dir = path.join(root, encodeURIComponent(queue), encodeURIComponent(jobId), encodeURIComponent(instance));
  return {
    dir,
    checkpoints: path.join(dir, 'checkpoints'),
    manifest: path.join(dir, 'manifest.json'),
    key: artifactKey('training', queue, jobId, instance),
  };
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

export async function readManifest(file: string): Promise<Manifest | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Manifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (err instanceof SyntaxError) return null;
    throw err;
  }
}
