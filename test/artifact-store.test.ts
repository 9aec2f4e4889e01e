import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVersitygw, type S3Server } from '../scripts/lib/s3/versitygw.js';
import type { ArtifactStore } from '../src/storage/artifact-store.js';
import { keyUnder } from '../src/storage/artifact-store.js';
import { LocalArtifactStore } from '../src/storage/local-store.js';
import { S3ArtifactStore } from '../src/storage/s3-store.js';
import { artifactStoreFromEnv } from '../src/storage/artifact-store-from-env.js';
import { loadEnv } from '../src/config/env.js';
import { tempDir } from './support/harness.js';

// One contract, two stores: a directory and a real S3 server (versitygw, built from its Go module).
let s3: S3Server;
beforeAll(async () => {
  s3 = await startVersitygw({ dataDir: tempDir('versitygw') });
  await s3.createBucket('contract');
}, 300_000);
afterAll(() => s3?.stop());

const stores: [string, () => ArtifactStore][] = [
  ['local directory', () => new LocalArtifactStore(tempDir('store'))],
  [
    'S3 (versitygw)',
    () =>
      new S3ArtifactStore({
        bucket: 'contract',
        prefix: `run-${Date.now()}/`,
        endpoint: s3.endpoint,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      }),
  ],
];

describe.each(stores)('artifact store: %s', (_name, make) => {
  it('puts, gets, lists and deletes files and texts; a missing key is null or false, not an error', async () => {
    const store = make();
    const dir = tempDir('files');
    const src = path.join(dir, 'step-100.json');
    writeFileSync(src, JSON.stringify({ step: 100, weights: [1, 2, 3] }));
    await store.putFile('training/q/job%201/i/checkpoints/step-100.json', src);
    await store.putFile(keyUnder('training/q/job%201/i/checkpoints', 'nested/step-200.bin'), src);
    await store.putText('training/q/job%201/i/manifest.json', '{"epoch":1}');

    expect(await store.getText('training/q/job%201/i/manifest.json')).toBe('{"epoch":1}');
    expect(await store.getText('training/q/job%201/i/nope.json')).toBeNull();
    const back = path.join(dir, 'back', 'copy.json');
    expect(await store.getFile('training/q/job%201/i/checkpoints/step-100.json', back)).toBe(true);
    expect(readFileSync(back, 'utf8')).toBe(readFileSync(src, 'utf8'));
    expect(await store.getFile('training/q/job%201/i/checkpoints/step-999.json', path.join(dir, 'x'))).toBe(false);

    expect((await store.list('training/q/job%201/i/checkpoints')).sort()).toEqual([
      'training/q/job%201/i/checkpoints/nested/step-200.bin',
      'training/q/job%201/i/checkpoints/step-100.json',
    ]);
    // The prefix is a directory, not a string prefix: `.../i` does not list `.../i2`.
    await store.putText('training/q/job%201/i2/manifest.json', '{}');
    expect(await store.list('training/q/job%201/i')).toHaveLength(3);

    await store.delete(['training/q/job%201/i/checkpoints/step-100.json', 'training/q/job%201/i/never-existed']);
    expect(await store.list('training/q/job%201/i/checkpoints')).toEqual(['training/q/job%201/i/checkpoints/nested/step-200.bin']);
    expect(store.locate('a/b')).toMatch(/a[/\\]b$/);
  });

  it('refuses names that climb out of their prefix', () => {
    expect(() => keyUnder('training/q', '../other/x')).toThrow(/not a plain relative path/);
    expect(() => keyUnder('training/q', '/abs')).toThrow(/not a plain relative path/);
  });
});

describe('artifact store from the environment', () => {
  it('s3 needs a bucket and says so; local with no directory means the data dir only', async () => {
    expect(() => loadEnv({ SHEPHERD_ARTIFACT_STORE: 's3' })).toThrow(/SHEPHERD_S3_BUCKET: required when SHEPHERD_ARTIFACT_STORE=s3/);
    expect(() => loadEnv({ SHEPHERD_ARTIFACT_STORE: 'gcs' })).toThrow(/SHEPHERD_ARTIFACT_STORE/);
    expect(await artifactStoreFromEnv(loadEnv({}))).toBeUndefined();
    const dir = tempDir('shared');
    mkdirSync(dir, { recursive: true });
    const local = await artifactStoreFromEnv(loadEnv({ SHEPHERD_ARTIFACT_DIR: dir }));
    expect(local).toBeInstanceOf(LocalArtifactStore);
    const remote = await artifactStoreFromEnv(loadEnv(s3.workerEnv('contract', 'p')));
    expect(remote?.locate('training/x')).toBe('s3://contract/p/training/x');
  });
});
