import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { startExperimentBatch } from '../src/client/experiments.js';
import * as workflows from '../src/workflows/index.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';

// Recorded histories are the contract with executions already in flight: a code change that
// would make them replay differently (nondeterminism) fails here before it reaches a worker.
const HISTORY_DIR = path.resolve('test/histories');
const RECORD = process.env.SHEPHERD_RECORD_HISTORIES === '1';

// Workflow types without a committed history yet; every other type in src/workflows/index.ts must
// have one, so a new workflow cannot ship without its history being guarded.
const NOT_YET_RECORDED = new Set(['trainingQueue', 'conversationMetrics']);

function recordedType(history: unknown): string | undefined {
  return (
    (history as { events?: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[] }).events?.[0]
      ?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? undefined
  );
}

function recorded(): { workflowId: string; history: unknown }[] {
  return readdirSync(HISTORY_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(path.join(HISTORY_DIR, f), 'utf8'))),
    }));
}

describe('replay', () => {
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(() => w?.stop());

  it('histories of fresh runs replay against the current workflow code', async () => {
    const id = `replay-${randomUUID().slice(0, 8)}`;
    const handle = await startExperimentBatch(
      w.client,
      {
        batchId: id,
        maxConcurrency: 2,
        retry: { maximumAttempts: 2, initialInterval: '100ms' },
        experiments: [
          nodeExperiment('good', 'done({ accuracy: 0.9 })'),
          nodeExperiment('bad', 'process.exit(4)'),
          nodeExperiment('also-good', 'done({ accuracy: 0.8 })'),
        ],
      },
      { taskQueue: w.taskQueue },
    );
    await handle.result();
    const ids = [handle.workflowId, `experiment-${id}-good`, `experiment-${id}-bad`];
    const histories = await Promise.all(
      ids.map(async (workflowId) => ({ workflowId, history: await w.client.workflow.getHandle(workflowId).fetchHistory() })),
    );
    if (RECORD) {
      mkdirSync(HISTORY_DIR, { recursive: true });
      for (const h of histories)
        writeFileSync(path.join(HISTORY_DIR, `${h.workflowId.replace(id, 'recorded')}.json`), historyToJSON(h.history));
    }
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      expect(r.error, r.workflowId).toBeUndefined();
    }
  });

  it('every workflow type in src/workflows/index.ts has a committed history (or is listed as not yet recorded)', () => {
    const types = new Set(recorded().map((h) => recordedType(h.history)));
    const missing = Object.keys(workflows).filter((type) => !types.has(type) && !NOT_YET_RECORDED.has(type));
    expect(missing).toEqual([]);
  });

  it('committed histories from earlier versions still replay', async () => {
    const histories = recorded();
    expect(histories.length).toBeGreaterThanOrEqual(3);
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      expect(r.error, r.workflowId).toBeUndefined();
    }
  });
});
