import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import type { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAnalysisPipeline } from '../../src/client/analysis.js';
import { createPool } from '../../src/db/pool.js';
import { appAnalysisWorkflowId } from '../../src/shared/analysis/ids.js';
import { connectTestClient } from '../support/harness.js';
import { pipelineInput, startFakeWorker, uniquePipelineId, type FakeWorker } from './pipeline-fakes.js';

// Fresh analysis histories (breaker trip, failed analyzer, unhealthy app, container release)
// must replay against the current code; with SHEPHERD_RECORD_HISTORIES=1 they are written to
// test/histories/analysis-*.json, which test/replay.test.ts replays from then on.
const HISTORY_DIR = path.resolve('test/histories');
const RECORD = process.env.SHEPHERD_RECORD_HISTORIES === '1';

let client: Client;
let connection: Connection;
let pool: pg.Pool;
let w: FakeWorker;

beforeAll(async () => {
  ({ client, connection } = await connectTestClient());
  pool = createPool(inject('databaseUrl'));
  w = await startFakeWorker(client, pool);
});
afterAll(async () => {
  await w?.stop();
  await connection?.close();
  await pool?.end();
});

describe('analysis replay', () => {
  it('histories of fresh pipeline and target runs replay against the current workflow code', async () => {
    w.controls.holder = (wf) => (wf.endsWith('claude-4.5-haiku-20251001-1') ? 'unhealthy' : 'healthy');
    w.controls.analyzer = (input) => {
      if (input.analyzer === 'performance') throw ApplicationFailure.nonRetryable('autocannon crashed', 'CommandFailed');
    };
    const id = uniquePipelineId('replay');
    const input = pipelineInput(id, 4, {
      concurrency: 2,
      notify: false,
      breakers: { analyzerFailureThreshold: 2, analyzerCooldownTargets: 5 },
    });
    const h = await startAnalysisPipeline(client, input, { taskQueue: w.taskQueue });
    const result = await h.result();
    expect(result.breakers.analyzers.find((b) => b.analyzer === 'performance')?.trips).toBe(1);
    const ids = [
      h.workflowId,
      appAnalysisWorkflowId(id, 'claude-3-5-haiku', '1'),
      appAnalysisWorkflowId(id, 'claude-4.5-haiku-20251001', '1'),
    ];
    const histories = await Promise.all(
      ids.map(async (workflowId) => ({ workflowId, history: await client.workflow.getHandle(workflowId).fetchHistory() })),
    );
    if (RECORD) {
      mkdirSync(HISTORY_DIR, { recursive: true });
      const names = ['analysis-pipeline-recorded', 'analysis-app-recorded', 'analysis-app-unhealthy-recorded'];
      histories.forEach((hh, i) => writeFileSync(path.join(HISTORY_DIR, `${names[i]}.json`), historyToJSON(hh.history)));
    }
    let replayed = 0;
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      expect(r.error, r.workflowId).toBeUndefined();
      replayed++;
    }
    expect(replayed).toBe(3);
  });
});
