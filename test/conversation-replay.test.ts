import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startConversationBatch } from '../src/client/conversations.js';
import type { ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import { ensureTemporalCli } from '../scripts/lib/temporal-cli.js';
import { loadExample, startConversationStack, withModels, type ConversationStack } from './support/conversations.js';
import { conversationRun } from '../src/workflows/index.js';

// Replays conversation workflow histories (a full WF3005 item with a timed-out attempt and its
// retry, and a batch run that continued as new) against the current workflow code. With
// SHEPHERD_RECORD_HISTORIES=1 they are saved to test/histories/, where replay.test.ts keeps
// replaying them after future changes.

let stack: ConversationStack;
beforeAll(async () => {
  stack = await startConversationStack({
    models: { 'qwen2.5:7b': { maxConcurrency: 2 }, 'gemma3:4b': { maxConcurrency: 1 }, 'mistral:latest': { maxConcurrency: 1 } },
  });
});
afterAll(async () => stack?.stop());

describe('conversation replay', () => {
  it('conversationRun and conversationBatch histories replay deterministically', async () => {
    const def = withModels(loadExample(), (m) => stack.model(m), `wf3005-replay-${stack.suffix}`);
    // The first model call (triage) stops streaming: a heartbeat timeout, a backoff timer, a retry.
    const tight = JSON.parse(JSON.stringify(def)) as ConversationDefinitionInput;
    const triage = tight.steps.find((s) => s.id === 'triage')!;
    triage.heartbeatTimeout = '1s';
    triage.retry = { maximumAttempts: 3, initialInterval: '200ms' };
    stack.fake.setBehaviour(stack.model('qwen2.5:7b'), { chunkSize: 4, hang: { afterChunks: 1, times: 1 } });
    const id = randomUUID().slice(0, 8);
    const run = await stack.worker.client.workflow.start(conversationRun, {
      taskQueue: stack.worker.taskQueue,
      workflowId: `conversation-replay-${id}-run`,
      args: [
        {
          definition: tight,
          item: { skill_id: 'sk-1001', skill_name: 'Kubernetes cluster administration', source_posting: 'Platform Engineer, Berlin' },
        },
      ],
    });
    const result = (await run.result()) as { path: { step: string; attempts: number }[] };
    expect(result.path[0]).toEqual({ step: 'triage', attempts: 2, output: undefined });
    stack.fake.setBehaviour(stack.model('qwen2.5:7b'), {});

    const batch = await startConversationBatch(
      stack.worker.client,
      {
        batchId: `replay-${id}`,
        definition: def,
        source: { kind: 'jsonl', path: 'examples/conversations/skills.jsonl' },
        pageSize: 2,
        concurrency: 2,
        notify: false,
      },
      { taskQueue: stack.worker.taskQueue },
    );
    // Only the first page matters here: wait until the first run has continued as new.
    const first = stack.worker.client.workflow.getHandle(batch.workflowId, batch.firstExecutionRunId);
    for (;;) {
      if ((await first.describe()).status.name !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await batch.terminate('replay test only needs the first page');

    const histories = [
      { workflowId: run.workflowId, history: await run.fetchHistory() },
      { workflowId: batch.workflowId, history: await first.fetchHistory() },
    ];
    if (process.env.SHEPHERD_RECORD_HISTORIES === '1') {
      // The Temporal CLI writes the standard JSON history format (historyFromJSON reads it back).
      const cli = await ensureTemporalCli();
      const dir = path.resolve('test/histories');
      mkdirSync(dir, { recursive: true });
      const dump = async (workflowId: string, runId: string, file: string) => {
        const { stdout } = await execa(cli, [
          'workflow',
          'show',
          '--address',
          inject('temporalAddress'),
          '-w',
          workflowId,
          '-r',
          runId,
          '-o',
          'json',
        ]);
        writeFileSync(path.join(dir, file), stdout);
      };
      await dump(run.workflowId, run.firstExecutionRunId, 'conversation-run-recorded.json');
      await dump(batch.workflowId, batch.firstExecutionRunId, 'conversation-batch-page-recorded.json');
    }
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      expect(r.error, r.workflowId).toBeUndefined();
    }
  });

  it('committed conversation histories still replay', async () => {
    const dir = path.resolve('test/histories');
    const files = readdirSync(dir).filter((f) => f.startsWith('conversation-') && f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, f), 'utf8'))),
    }));
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      expect(r.error, r.workflowId).toBeUndefined();
    }
  });
});
