import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  trainingJobSchema,
  trainingQueueInputSchema,
  trainingQueueWorkflowId,
  type TrainingJobInput,
  type TrainingQueueInput,
} from '../../shared/training/schemas.js';
import { describeIssues } from '../../shared/schemas.js';
import type { EnqueueResult, TrainingQueueResult } from '../../workflows/training/training-queue.js';
import type { QueueStatus } from '../../shared/training/queue-state.js';
import { InvalidInputError } from '../errors.js';
import { existingHandle, pipelineHandle, toShepherdError, type PipelineHandle } from '../handle.js';
import { startOrExplain } from './start.js';

export const TRAINING_QUEUE = 'trainingQueue';

/** A training queue: a long-lived workflow driven by updates; progress() is its status. */
export type TrainingQueueHandle = PipelineHandle<TrainingQueueResult, QueueStatus> & {
  enqueue(job: TrainingJobInput): Promise<EnqueueResult>;
  pause(reason?: string): Promise<QueueStatus>;
  resume(): Promise<QueueStatus>;
  /** Stops after the running job checkpoints; queued jobs are returned as notRun. */
  stop(): Promise<QueueStatus>;
  cancelCurrent(): Promise<QueueStatus>;
  remove(jobId: string): Promise<QueueStatus>;
};

function withUpdates(h: PipelineHandle<TrainingQueueResult, QueueStatus>): TrainingQueueHandle {
  const w: WorkflowHandle = h.workflow;
  const update = async <R>(name: string, args: unknown[]): Promise<R> => {
    try {
      return await (args.length
        ? w.executeUpdate<R, [unknown, ...unknown[]]>(name, { args: args as [unknown, ...unknown[]] })
        : w.executeUpdate<R, []>(name));
    } catch (err) {
      throw toShepherdError(err, h.workflowId);
    }
  };
  return {
    ...h,
    enqueue: (job) => {
      const parsed = trainingJobSchema.safeParse(job);
      if (!parsed.success) return Promise.reject(new InvalidInputError(`invalid training job: ${describeIssues(parsed.error)}`));
      return update<EnqueueResult>('enqueue', [job]);
    },
    pause: (reason) => update('pause', [reason === undefined ? undefined : { reason }]),
    resume: () => update('resume', []),
    stop: () => update('stop', []),
    cancelCurrent: () => update('cancelCurrent', []),
    remove: (jobId) => update('remove', [jobId]),
  };
}

/** Starts (or, with attachIfRunning, attaches to) a training queue. */
export async function start(
  client: Client,
  input: TrainingQueueInput,
  opts: { taskQueue?: string; attachIfRunning?: boolean } = {},
): Promise<TrainingQueueHandle> {
  const parsed = trainingQueueInputSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(`invalid training queue: ${describeIssues(parsed.error)}`);
  const id = trainingQueueWorkflowId(parsed.data.queue);
  const workflow = await startOrExplain(id, () =>
    client.workflow.start(TRAINING_QUEUE, {
      workflowId: id,
      taskQueue: opts.taskQueue ?? process.env.SHEPHERD_TASK_QUEUE ?? 'shepherd',
      args: [input],
      workflowIdConflictPolicy: opts.attachIfRunning ? 'USE_EXISTING' : 'FAIL',
      staticSummary: `training queue ${parsed.data.queue}`,
    }),
  );
  return withUpdates(pipelineHandle(workflow, 'status'));
}

export function get(client: Client, queue: string): TrainingQueueHandle {
  return withUpdates(existingHandle(client, trainingQueueWorkflowId(queue), 'status'));
}

export { trainingQueueWorkflowId as workflowId };
export type { TrainingJobInput, TrainingQueueInput, TrainingQueueResult, QueueStatus, EnqueueResult };
