import { STAGE } from '../shared/search-attributes.js';
import {
  CancelledFailure,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { allFailedSummary } from './outcome.js';
import { NotFoundError, PipelineFailedError } from './errors.js';

/** What describe() tells about any Shepherd pipeline: Temporal's status and the Stage attribute. */
export interface PipelineDescription {
  workflowId: string;
  runId: string;
  /** RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW. */
  status: WorkflowExecutionDescription['status']['name'];
  /** The Stage search attribute: completed, completed_with_failures, failed, cancelled, running, ... */
  stage?: string;
  startTime: Date;
  closeTime?: Date;
}

/** A typed handle on one pipeline execution, whichever pipeline it is. */
export interface PipelineHandle<Result, Progress> {
  readonly workflowId: string;
  /** The raw Temporal handle, for anything this one does not cover. */
  readonly workflow: WorkflowHandle;
  /**
   * The result, also when every item failed (the summary travels in the failure details, see
   * shared/outcome.ts); a cancelled, terminated, timed-out or otherwise failed run rejects with
   * PipelineFailedError, an unknown ID with NotFoundError.
   */
  result(): Promise<Result>;
  progress(): Promise<Progress>;
  describe(): Promise<PipelineDescription>;
  /** Requests cancellation: running steps are killed, bookkeeping still happens. */
  cancel(): Promise<void>;
}

export function toShepherdError(err: unknown, workflowId: string): unknown {
  if (err instanceof WorkflowNotFoundError) return new NotFoundError(workflowId);
  if (err instanceof WorkflowFailedError) {
    const c = err.cause;
    const status =
      c instanceof CancelledFailure
        ? 'cancelled'
        : c instanceof TerminatedFailure
          ? 'terminated'
          : c instanceof TimeoutFailure
            ? 'timed_out'
            : 'failed';
    const why = innermost(c);
    return new PipelineFailedError(`${workflowId} ${status.replace('_', ' ')}${why ? `: ${why}` : ''}`, workflowId, status, err);
  }
  return err;
}

function innermost(err: unknown): string | undefined {
  let e = err as (Error & { cause?: unknown }) | undefined;
  while (e?.cause instanceof Error) e = e.cause as Error & { cause?: unknown };
  return e?.message;
}

export function pipelineHandle<Result, Progress>(workflow: WorkflowHandle, progressQuery: string): PipelineHandle<Result, Progress> {
  const { workflowId } = workflow;
  const wrap = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      throw toShepherdError(err, workflowId);
    }
  };
  return {
    workflowId,
    workflow,
    async result() {
      try {
        return (await workflow.result()) as Result;
      } catch (err) {
        const summary = allFailedSummary<Result>(err);
        if (summary !== undefined) return summary;
        throw toShepherdError(err, workflowId);
      }
    },
    progress: () => wrap(workflow.query<Progress>(progressQuery)),
    cancel: () => wrap(workflow.cancel()).then(() => undefined),
    describe: () => wrap(describePipeline(workflow)),
  };
}

async function describePipeline(workflow: WorkflowHandle): Promise<PipelineDescription> {
  const d = await workflow.describe();
  const stage = d.typedSearchAttributes.get(STAGE);
  return {
    workflowId: d.workflowId,
    runId: d.runId,
    status: d.status.name,
    stage: typeof stage === 'string' ? stage : undefined,
    startTime: d.startTime,
    closeTime: d.closeTime,
  };
}

/** A handle on an existing execution by workflow ID (no server call until used). */
export function existingHandle<Result, Progress>(
  client: Client,
  workflowId: string,
  progressQuery: string,
): PipelineHandle<Result, Progress> {
  return pipelineHandle<Result, Progress>(client.workflow.getHandle(workflowId), progressQuery);
}
