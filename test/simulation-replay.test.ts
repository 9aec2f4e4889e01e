import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sweepWorkflowId } from '../src/shared/simulation/workflow-ids.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { runSimulation, shJob, writeReplicateScript } from './support/simulation.js';

// simulationJob and parameterSweep histories — with progress signals, a failed parameter set and
// continue-as-new — replay against the current code. With SHEPHERD_RECORD_HISTORIES=1 they are
// also written to test/histories, where replay.test.ts keeps checking them against later code.

const RECORD = process.env.SHEPHERD_RECORD_HISTORIES === '1';

describe('simulation replay', () => {
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(() => w?.stop());

  it('job and sweep histories replay deterministically', async () => {
    const jobId = `replay-${randomUUID().slice(0, 8)}`;
    const script = writeReplicateScript();
    const result = await runSimulation(
      w.client,
      w.taskQueue,
      shJob(script, {
        jobId,
        parameters: [
          { key: 'ok', values: { mode: 'ok' } },
          { key: 'failing', values: { mode: 'every5th-fails' } },
        ],
        replicates: 24,
        replicatesPerTask: 2,
        continueAsNewAfterEvents: 50,
      }),
    );
    expect(result.parameters.map((p) => p.status)).toEqual(['completed', 'failed']);
    expect(result.parameters[0].runs).toBeGreaterThan(1);

    const ids = [`simulation-${jobId}`, sweepWorkflowId(jobId, 'ok'), sweepWorkflowId(jobId, 'failing')];
    const histories: {
      workflowId: string;
      runId: string;
      history: Awaited<ReturnType<ReturnType<typeof w.client.workflow.getHandle>['fetchHistory']>>;
    }[] = [];
    for (const workflowId of ids) {
      for await (const run of w.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
        histories.push({ workflowId, runId: run.runId, history: await w.client.workflow.getHandle(workflowId, run.runId).fetchHistory() });
      }
    }
    expect(histories.length).toBeGreaterThan(3);
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      expect(r.error, r.workflowId).toBeUndefined();
    }
    if (RECORD) {
      const dir = path.resolve('test/histories');
      mkdirSync(dir, { recursive: true });
      const seen = new Map<string, number>();
      for (const h of histories) {
        const n = seen.get(h.workflowId) ?? 0;
        seen.set(h.workflowId, n + 1);
        const name = `${h.workflowId.replace(jobId, 'simulation-recorded').replace(/^simulation-simulation-/, 'simulation-')}${n ? `-run${n + 1}` : ''}`;
        writeFileSync(path.join(dir, `${name}.json`), historyToJSON(h.history));
      }
    }
  });
});
