import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as workflows from '../src/workflows/index.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { outcomeWithin, startWithTemporalCli, workflowTaskFailures } from './support/temporal-cli.js';

// Every workflow type the worker registers (src/workflows/index.ts, so a new one is covered
// without editing this file) must turn malformed input from the temporal CLI into a failed
// workflow naming the problem, never a workflow-task retry loop that shows as "Running" forever.
// conversationMetrics is started by its Schedule only and has no required input to get wrong.
const WITHOUT_REQUIRED_INPUT = new Set(['conversationMetrics']);
const TYPES = Object.keys(workflows).filter((type) => !WITHOUT_REQUIRED_INPUT.has(type));
const INPUTS: [string, string[]][] = [
  ['no-input', []],
  ['a-string', ['--input', '"just a string"']],
  ['wrong-types', ['--input', '{"batchId": 7, "jobId": [], "queue": 3, "definition": "x", "experiments": "none"}']],
  ['empty-object', ['--input', '{}']],
];

describe('malformed input from the temporal CLI', () => {
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(() => w?.stop());

  for (const type of TYPES) {
    it(`${type} fails at once with a non-retryable error, without workflow-task failures`, async () => {
      for (const [label, input] of INPUTS) {
        const workflowId = `malformed-${type}-${label}-${randomUUID().slice(0, 6)}`;
        await startWithTemporalCli({ type, taskQueue: w.taskQueue, workflowId, args: input });
        const handle = w.client.workflow.getHandle(workflowId);
        const outcome = await outcomeWithin(handle, 20_000);
        expect(await workflowTaskFailures(handle), `${type} ${label}`).toEqual([]);
        expect(outcome, `${type} ${label}`).toBeInstanceOf(WorkflowFailedError);
        const cause = (outcome as WorkflowFailedError).cause as { message?: string; nonRetryable?: boolean } | undefined;
        expect(cause?.nonRetryable, `${type} ${label}: ${cause?.message}`).toBe(true);
        expect(cause?.message, `${type} ${label}`).toMatch(/input|missing|invalid|must|expected/i);
        if (outcome === 'still running') await handle.terminate('malformed-input test');
      }
    });
  }
});
