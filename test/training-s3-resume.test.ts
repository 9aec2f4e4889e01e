import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startVersitygw } from '../scripts/lib/s3/versitygw.js';
import { enqueueUpdate, stopUpdate } from '../src/shared/training/messages.js';
import { S3ArtifactStore } from '../src/storage/s3-store.js';
import { artifactKey } from '../src/storage/artifact-store.js';
import { connectTestClient, startTestWorker, tempDir, uniqueQueue, type TestWorker } from './support/harness.js';
import { markedProcesses, waitFor } from './support/procs.js';
import { irisJob, startQueue, waitStatus } from './support/training.js';
import { spawnWorkerProcess } from './support/worker-process.js';

// Checkpoints that outlive their machine: worker A (its own data dir) uploads each checkpoint to
// a real S3 server as the trainer writes it, and is SIGKILLed mid-job; worker B, with another
// data dir that has never seen the job, downloads the newest one and continues the step count.
describe('training checkpoints in an S3 artifact store', () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it(
    'a job killed on worker A resumes on worker B, with a different data dir, from the uploaded checkpoint',
    { timeout: 400_000 },
    async () => {
      const s3 = await startVersitygw({ dataDir: tempDir('versitygw') });
      cleanups.push(() => s3.stop());
      const bucket = `ckpt-${randomUUID().slice(0, 8)}`;
      await s3.createBucket(bucket);
      const store = new S3ArtifactStore({
        bucket,
        prefix: 'shepherd',
        endpoint: s3.endpoint,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });

      const taskQueue = uniqueQueue('train-s3');
      const marker = randomUUID();
      const queue = `s3-${marker.slice(0, 8)}`;
      const { client, connection } = await connectTestClient();
      cleanups.push(() => connection.close());

      const dataA = tempDir('worker-a');
      const a = spawnWorkerProcess({ taskQueue, dataDir: dataA, env: s3.workerEnv(bucket, 'shepherd') });
      cleanups.push(() => a.kill('SIGKILL'));
      await a.ready;

      const h = await startQueue(client, taskQueue, { queue });
      cleanups.push(() => h.terminate().catch(() => undefined));
      await h.executeUpdate(enqueueUpdate, {
        args: [
          irisJob('portable', {
            steps: 3000,
            checkpointInterval: 100,
            evalInterval: 50,
            heartbeatTimeout: '3s',
            retention: { keepLast: 2, keepBest: true },
            retry: { maximumAttempts: 5, initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s' },
            params: { stepDelayMs: 2 },
            trainer: { env: { SHEPHERD_TEST_MARKER: marker } },
          }),
        ],
      });

      const before = await waitStatus(
        h,
        'a checkpoint at step 300 or later',
        (s) => (s.current?.progress?.lastCheckpoint?.step ?? 0) >= 300,
      );
      const instance = before.current!.instance;
      const jobKey = artifactKey('training', queue, 'portable', instance);
      // Uploaded as written: the checkpoint the queue knows of is in the bucket already.
      const uploaded = await store.list(`${jobKey}/checkpoints`);
      expect(uploaded.length).toBeGreaterThan(0);
      expect(await store.getText(`${jobKey}/manifest.json`)).toContain('"epoch": 1');

      a.kill('SIGKILL');
      await a.exited;
      await waitFor(() => markedProcesses('SHEPHERD_TEST_MARKER', marker).length === 0, 'no orphaned trainer', 10_000);
      // The newest checkpoint the stored manifest names when A died. An object A uploaded but had
      // not yet named (killed between the upload and the manifest write) is rightly not resumed.
      const named = JSON.parse((await store.getText(`${jobKey}/manifest.json`))!) as { checkpoints: { step: number }[] };
      const newestUploaded = Math.max(...named.checkpoints.map((c) => c.step));

      const dataB = tempDir('worker-b');
      let b: TestWorker | undefined = await startTestWorker({ taskQueue, deps: { runsDir: path.join(dataB, 'runs'), artifacts: store } });
      cleanups.push(() => b?.stop());

      const done = await waitStatus(h, 'the job completed', (s) => s.counts.completed === 1, 180_000);
      expect(done.recent[0]).toMatchObject({ jobId: 'portable', status: 'completed', step: 3000 });
      const row = await waitFor(async () => {
        const r = await b!.pool.query('SELECT status, attempt, metrics FROM training_jobs WHERE instance = $1', [instance]);
        return r.rows[0]?.status === 'completed' ? r.rows[0] : undefined;
      }, 'the completed row');
      expect(row.attempt).toBeGreaterThanOrEqual(2);
      // B trained from a copy in its own data dir, downloaded from the store, at least as new as
      // the newest checkpoint A had uploaded and named in the manifest when it died.
      const resumedFrom = String(row.metrics.resumedFrom);
      expect(resumedFrom.startsWith(path.join(dataB, 'training') + path.sep), resumedFrom).toBe(true);
      expect(Number(/step-(\d+)\.json$/.exec(resumedFrom)![1])).toBeGreaterThanOrEqual(newestUploaded);
      // PostgreSQL keeps the reference to where the checkpoints live.
      expect(row.metrics.artifacts).toBe(`s3://${bucket}/shepherd/${jobKey}`);

      // Retention applies to the store: the last 2 and the best by val loss, nothing else.
      const kept = await store.list(`${jobKey}/checkpoints`);
      expect(kept.length).toBeGreaterThanOrEqual(2);
      expect(kept.length).toBeLessThanOrEqual(3);
      expect(kept.some((k) => k.endsWith('step-00003000.json'))).toBe(true);
      const manifest = JSON.parse((await store.getText(`${jobKey}/manifest.json`))!) as { epoch: number; checkpoints: { path: string }[] };
      expect(manifest.epoch).toBeGreaterThanOrEqual(2);
      expect(manifest.checkpoints.map((c) => path.basename(c.path)).sort()).toEqual(kept.map((k) => path.basename(k)).sort());

      await h.executeUpdate(stopUpdate, { args: [] });
      await h.result();
      await b.stop();
      b = undefined;
      expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).toEqual([]);
    },
  );
});
