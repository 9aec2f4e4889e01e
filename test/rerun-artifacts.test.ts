import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExperimentBatch } from '../src/client/experiments.js';
import { experimentRunWorkflowId } from '../src/shared/experiments/workflow-ids.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';

// Issue 12 item 6 (workspaces): starting a batch ID again used to empty the first, successful
// run's workspace (same workflow ID, activity ID and attempt). Workspaces now carry the workflow
// run ID, so a rerun writes beside the earlier run and never deletes or overwrites its files.
describe('a rerun of the same batch ID', () => {
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(() => w?.stop());

  it("keeps the first run's outputs and logs; each run has its own workspace tree", async () => {
    const batchId = `rerun-${randomUUID().slice(0, 8)}`;
    for (const label of ['first', 'second']) {
      const experiment = nodeExperiment(
        'only',
        `fs.writeFileSync('predictions.csv', 'run,${label}\\n'); console.log('log of ${label}'); done({ accuracy: 1 })`,
        { outputs: ['predictions.csv'] },
      );
      const h = await startExperimentBatch(w.client, { batchId, experiments: [experiment], notify: false }, { taskQueue: w.taskQueue });
      await h.result();
    }
    const childDir = path.join(w.deps.runsDir, encodeURIComponent(experimentRunWorkflowId(batchId, 'only')));
    const runDirs = readdirSync(childDir);
    expect(runDirs).toHaveLength(2); // one per workflow run
    const contents = runDirs.map((r) => {
      const attemptDir = path.join(childDir, r, readdirSync(path.join(childDir, r))[0]!, '1');
      return readFileSync(path.join(attemptDir, 'predictions.csv'), 'utf8');
    });
    expect(contents.sort()).toEqual(['run,first\n', 'run,second\n']);
  });
});
