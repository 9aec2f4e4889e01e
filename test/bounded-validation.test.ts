import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ISSUES } from '../src/shared/validation/bounded-issues.js';
import { startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { outcomeWithin, startWithTemporalCli, workflowTaskFailures } from './support/temporal-cli.js';

// Issue 12 item 3: validation failures are bounded (the first issues and a count) whatever the
// input: 60,000 unknown keys or a 250 KB binary/plain payload fail at once with a failure of a
// few kilobytes, not megabytes of attributes the server refuses.
const TYPES = ['experimentBatch', 'simulationJob', 'trainingQueue', 'conversationBatch'];
const MAX_FAILURE_BYTES = 8 * 1024;

describe('bounded validation failures', () => {
  let w: TestWorker;
  let manyKeys: string;
  let binary: string;
  beforeAll(async () => {
    w = await startTestWorker();
    const dir = tempDir('bounded');
    const big: Record<string, number> = {};
    for (let i = 0; i < 60_000; i++) big[`unknown_key_${i}`] = i;
    manyKeys = path.join(dir, 'many-keys.json');
    writeFileSync(manyKeys, JSON.stringify(big));
    binary = path.join(dir, 'blob.bin');
    writeFileSync(binary, randomBytes(250 * 1024));
  });
  afterAll(() => w?.stop());

  async function failureOf(type: string, label: string, input: string[]) {
    const workflowId = `bounded-${type}-${label}-${randomUUID().slice(0, 6)}`;
    await startWithTemporalCli({ type, taskQueue: w.taskQueue, workflowId, args: input });
    const handle = w.client.workflow.getHandle(workflowId);
    const outcome = await outcomeWithin(handle, 30_000);
    if (outcome === 'still running') await handle.terminate('bounded-validation test');
    const events = (await handle.fetchHistory()).events ?? [];
    expect(await workflowTaskFailures(handle, 200), `${type} ${label}`).toEqual([]);
    expect(outcome, `${type} ${label}`).toBeInstanceOf(WorkflowFailedError);
    const failed = events.find((e) => e.workflowExecutionFailedEventAttributes)!.workflowExecutionFailedEventAttributes!.failure!;
    const bytes = Buffer.byteLength(JSON.stringify(failed));
    expect(bytes, `${type} ${label}: failure attributes of ${bytes} bytes`).toBeLessThan(MAX_FAILURE_BYTES);
    const cause = (outcome as WorkflowFailedError).cause as { message: string; nonRetryable?: boolean; details?: unknown[] };
    expect(cause.nonRetryable).toBe(true);
    return cause;
  }

  for (const type of TYPES) {
    it(`${type}: 60,000 unknown keys give the first issues and a count`, async () => {
      const cause = await failureOf(type, 'keys', ['--input-file', manyKeys]);
      expect(cause.message).toMatch(/unrecognized key/);
      expect(cause.message).toMatch(/and \d+ more/);
      const details = cause.details?.[0] as { total: number; issues: unknown[] };
      expect(details.issues.length).toBeLessThanOrEqual(MAX_ISSUES);
      expect(details.total).toBeGreaterThanOrEqual(details.issues.length);
    });

    it(`${type}: a 250 KB binary/plain payload fails naming the input`, async () => {
      const cause = await failureOf(type, 'binary', ['--input-file', binary, '--input-meta', 'encoding=binary/plain']);
      expect(cause.message).toMatch(/input/);
    });
  }
});
