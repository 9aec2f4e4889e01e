import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { outcomeWithin, startWithTemporalCli, workflowTaskFailures } from './support/temporal-cli.js';

// Issue 12 item 2: a payload whose metadata names an encoding the converter cannot decode must
// fail the workflow at once, non-retryably, saying the input could not be decoded, for every
// workflow type; never a workflow-task failure retried forever.
const TYPES = [
  'experimentBatch',
  'experimentRun',
  'simulationJob',
  'parameterSweep',
  'trainingQueue',
  'conversationRun',
  'conversationBatch',
];
const INPUTS: [string, string[], string][] = [
  ['binary-unknown', ['--input', '"abc"', '--input-meta', 'encoding=binary/unknown'], 'binary/unknown'],
  ['json-protobuf', ['--input', '{"batchId": "x"}', '--input-meta', 'encoding=json/protobuf'], 'json/protobuf'],
];

describe('undecodable payloads from the temporal CLI', () => {
  let w: TestWorker;
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(() => w?.stop());

  for (const type of TYPES) {
    it(`${type} fails at once, non-retryably, saying the input could not be decoded`, async () => {
      for (const [label, input, encoding] of INPUTS) {
        const workflowId = `undecodable-${type}-${label}-${randomUUID().slice(0, 6)}`;
        await startWithTemporalCli({ type, taskQueue: w.taskQueue, workflowId, args: input });
        const handle = w.client.workflow.getHandle(workflowId);
        const outcome = await outcomeWithin(handle, 20_000);
        if (outcome === 'still running') await handle.terminate('undecodable-input test');
        expect(await workflowTaskFailures(handle), `${type} ${label}`).toEqual([]);
        expect(outcome, `${type} ${label}`).toBeInstanceOf(WorkflowFailedError);
        const cause = (outcome as WorkflowFailedError).cause as { message?: string; nonRetryable?: boolean; type?: string } | undefined;
        expect(cause?.nonRetryable, `${type} ${label}: ${cause?.message}`).toBe(true);
        expect(cause?.type).toBe('UndecodableInput');
        expect(cause?.message).toContain('input could not be decoded');
        expect(cause?.message).toContain(encoding);
      }
    });
  }
});
