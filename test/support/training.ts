import type { Client, WorkflowHandle } from '@temporalio/client';
import { trainingQueueWorkflowId, type TrainingJobInput, type TrainingQueueInput } from '../../src/shared/training/schemas.js';
import type { trainingQueue } from '../../src/workflows/training/training-queue.js';
import { statusQuery } from '../../src/shared/training/messages.js';
import type { QueueStatus } from '../../src/shared/training/queue-state.js';
import { waitFor } from './procs.js';

// Helpers shared by the training queue suites: a job on the bundled Iris data with the example
// trainer, starting a queue under its derived ID, polling its status query.

export const IRIS = 'examples/experiments/data/iris.csv';

export function irisJob(jobId: string, over: Partial<TrainingJobInput> = {}): TrainingJobInput {
  return {
    jobId,
    dataset: IRIS,
    steps: 200,
    evalInterval: 20,
    checkpointInterval: 50,
    heartbeatTimeout: '5s',
    retry: { maximumAttempts: 3, initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s' },
    ...over,
  };
}

/** A job that runs until paused or cancelled (about 200 steps a second). */
export function longJob(jobId: string, marker: string, over: Partial<TrainingJobInput> = {}): TrainingJobInput {
  return irisJob(jobId, { steps: 10_000_000, params: { stepDelayMs: 5 }, trainer: { env: { SHEPHERD_TEST_MARKER: marker } }, ...over });
}

export type QueueHandle = WorkflowHandle<typeof trainingQueue>;

export async function startQueue(client: Client, taskQueue: string, input: TrainingQueueInput): Promise<QueueHandle> {
  return client.workflow.start<typeof trainingQueue>('trainingQueue', {
    taskQueue,
    workflowId: trainingQueueWorkflowId(input.queue),
    args: [{ progressIntervalMs: 300, ...input }],
  });
}

export const status = (h: QueueHandle): Promise<QueueStatus> => h.query(statusQuery);

export function waitStatus(h: QueueHandle, what: string, probe: (s: QueueStatus) => boolean, timeoutMs = 60_000): Promise<QueueStatus> {
  return waitFor(
    async () => {
      const s = await status(h);
      return probe(s) ? s : undefined;
    },
    what,
    timeoutMs,
  );
}

/** The message a refused or failed update gives its caller. */
export async function updateRefusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { cause?: Error };
    return `${e.message} ${e.cause?.message ?? ''}`;
  }
  throw new Error('expected the update to be refused');
}
