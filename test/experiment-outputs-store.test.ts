import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVersitygw, type S3Server } from '../scripts/lib/s3/versitygw.js';
import { startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { retentionPolicySchema, type WorkspaceCleanupInput, type WorkspaceCleanupReport } from '../src/shared/hygiene/schemas.js';
import { S3ArtifactStore } from '../src/storage/s3-store.js';
import { startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';

// Declared outputs that outlive the worker's machine: uploaded to a real S3 server under the
// run they belong to, referenced from the result row; the workspace cleanup deletes a run's objects with its workspace.
describe('experiment outputs in an S3 artifact store', () => {
  let s3: S3Server;
  let store: S3ArtifactStore;
  let w: TestWorker;
  const bucket = `outputs-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    s3 = await startVersitygw({ dataDir: tempDir('versitygw') });
    await s3.createBucket(bucket);
    store = new S3ArtifactStore({
      bucket,
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    w = await startTestWorker({ deps: { artifacts: store } });
  }, 300_000);
  afterAll(async () => {
    await w?.stop();
    await s3?.stop();
  });

  const runBatch = async (batchId: string, value: string) => {
    const writer = nodeExperiment(
      'writer',
      `fs.mkdirSync('plots'); fs.writeFileSync('plots/a.txt', '${value}-a'); fs.writeFileSync('out.csv', 'v\\n${value}\\n'); done({ ok: 1 });`,
      { outputs: ['out.csv', 'plots'] },
    );
    const handle = await startExperimentBatch(w.client, { batchId, experiments: [writer] }, { taskQueue: w.taskQueue });
    const result = (await handle.result()) as ExperimentBatchResult;
    expect(result.status).toBe('completed');
  };

  it('uploads each declared output (file or directory) under its run; the row references it', async () => {
    const batchId = `outputs-${randomUUID().slice(0, 8)}`;
    await runBatch(batchId, 'first');
    const rows1 = await w.pool.query('SELECT outputs, run_id FROM experiment_results WHERE batch_id = $1', [batchId]);
    const outputs1 = rows1.rows.flatMap((r) => r.outputs as { path: string; size: number; artifact: string }[]);
    expect(outputs1.map((o) => o.path).sort()).toEqual(['out.csv', 'plots']);
    for (const o of outputs1) expect(o.artifact).toMatch(new RegExp(`^s3://${bucket}/runs/.+/out\\.csv$|^s3://${bucket}/runs/.+/plots$`));
    const csvKey = outputs1.find((o) => o.path === 'out.csv')!.artifact.slice(`s3://${bucket}/`.length);
    expect(await store.getText(csvKey)).toBe('v\nfirst\n');
    const plotsKey = outputs1.find((o) => o.path === 'plots')!.artifact.slice(`s3://${bucket}/`.length);
    expect(await store.list(plotsKey)).toEqual([`${plotsKey}/a.txt`]);
    expect(await store.getText(`${plotsKey}/a.txt`)).toBe('first-a');

    // The key carries the run: another run of the same workflow ID can never overwrite it.
    expect(csvKey).toContain(`/${rows1.rows[0].run_id}/`);
  });

  it('the workspace cleanup deletes a removed run’s objects from the store along with its workspace', async () => {
    const batchId = `cleanup-${randomUUID().slice(0, 8)}`;
    await runBatch(batchId, 'gone');
    const { rows } = await w.pool.query('SELECT outputs FROM experiment_results WHERE batch_id = $1', [batchId]);
    const keys = (rows[0].outputs as { artifact: string }[]).map((o) => o.artifact.slice(`s3://${bucket}/`.length));
    const runPrefix = keys[0]!.split('/').slice(0, 3).join('/'); // runs/<workflowId>/<runId>
    expect((await store.list(runPrefix)).length).toBeGreaterThan(0);

    // Keep nothing that succeeded: every run of this worker's runs dir goes, and its objects with it.
    const input: WorkspaceCleanupInput = {
      dryRun: false,
      policy: retentionPolicySchema.parse({ succeeded: { last: 0, maxAge: '30d' }, failed: { last: 0, maxAge: '30d' } }),
    };
    const report: WorkspaceCleanupReport = await w.client.workflow.execute('workspaceCleanup', {
      workflowId: `cleanup-${randomUUID()}`,
      taskQueue: w.taskQueue,
      args: [input],
    });
    expect(report.removedRuns).toBeGreaterThan(0);
    expect(await store.list(runPrefix)).toEqual([]);
  });
});
