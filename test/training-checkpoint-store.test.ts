import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { addCheckpoint, jobDirs, openJobDir } from '../src/activities/training/checkpoints.js';
import { uploadCheckpoint } from '../src/activities/training/checkpoint-mirror.js';
import { LocalArtifactStore } from '../src/storage/local-store.js';
import type { CheckpointRef } from '../src/shared/training/schemas.js';

// A job's checkpoints in an artifact store: a resuming attempt (another machine) keeps what the
// manifest names and removes what a killed attempt uploaded but never named.

const tmp = mkdtempSync(path.join(os.tmpdir(), 'shepherd-ckpt-store-'));
const owner = { instance: 'inst-1', queue: 'q', jobId: 'job' };

function checkpoint(dir: string, step: number, asDirectory = false): CheckpointRef {
  const p = path.join(dir, `step-${String(step).padStart(8, '0')}${asDirectory ? '' : '.json'}`);
  if (asDirectory) {
    mkdirSync(p, { recursive: true });
    writeFileSync(path.join(p, 'weights.bin'), `w${step}`);
    writeFileSync(path.join(p, 'optimizer.bin'), `o${step}`);
  } else writeFileSync(p, JSON.stringify({ step }));
  return { step, path: p, valLoss: 1 / step };
}

describe('checkpoints in an artifact store', () => {
  it('a new attempt removes stored checkpoints no manifest names, and keeps every named one', async () => {
    const store = new LocalArtifactStore(path.join(tmp, 'store'));
    const dirsA = jobDirs(path.join(tmp, 'worker-a'), owner.queue, owner.jobId, owner.instance);
    const manifest = await openJobDir(dirsA, owner, store);
    for (const ref of [checkpoint(dirsA.checkpoints, 100), checkpoint(dirsA.checkpoints, 200, true)])
      await addCheckpoint(dirsA, manifest, ref, 2, false, store);
    // Killed after uploading step 300 and before the manifest named it.
    await uploadCheckpoint(store, dirsA, checkpoint(dirsA.checkpoints, 300));
    const listed = async () => (await store.list(`${dirsA.key}/checkpoints`)).map((k) => k.slice(dirsA.key.length + 13)).sort();
    expect(await listed()).toEqual([
      'step-00000100.json',
      'step-00000200/optimizer.bin',
      'step-00000200/weights.bin',
      'step-00000300.json',
    ]);

    const dirsB = jobDirs(path.join(tmp, 'worker-b'), owner.queue, owner.jobId, owner.instance);
    const resumed = await openJobDir(dirsB, owner, store);
    expect(resumed.epoch).toBe(2);
    expect(resumed.checkpoints.map((c) => c.step)).toEqual([100, 200]);
    expect(await listed()).toEqual(['step-00000100.json', 'step-00000200/optimizer.bin', 'step-00000200/weights.bin']);
  });

  it('a new enqueue of the same job ID (another instance) starts with no stored checkpoint at all', async () => {
    const store = new LocalArtifactStore(path.join(tmp, 'store-2'));
    const dirs = jobDirs(path.join(tmp, 'worker-c'), owner.queue, owner.jobId, owner.instance);
    const manifest = await openJobDir(dirs, owner, store);
    await addCheckpoint(dirs, manifest, checkpoint(dirs.checkpoints, 100), 2, false, store);
    const next = { ...owner, instance: 'inst-2' };
    const dirs2 = jobDirs(path.join(tmp, 'worker-c'), next.queue, next.jobId, next.instance);
    await openJobDir(dirs2, next, store);
    expect(await store.list(`${dirs.key}/checkpoints`)).toHaveLength(1);
    expect(await store.list(`${dirs2.key}/checkpoints`)).toEqual([]);
  });
});
