import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { describeIssues } from '../shared/schemas.js';
import { PIPELINE_ID, PIPELINE_KIND } from '../shared/search-attributes.js';
import { analysisPipelineWorkflowId } from '../shared/analysis/ids.js';
import { analysisPipelineSchema, type AnalysisPipelineInput } from '../shared/analysis/input.js';
import { analysisProgressQuery, resetBreakerSignal, resetBreakerUpdate } from '../shared/analysis/messages.js';
import type { AnalysisPipelineResult, AnalysisProgress, BreakerTarget, ResetBreakerResult } from '../shared/analysis/results.js';
import type { analysisPipeline } from '../workflows/analysis/pipeline.js';

// Typed starter and handle for analysisPipeline, for the CLI and other services.

export const ANALYSIS_PIPELINE = 'analysisPipeline';

export class InvalidAnalysisInputError extends Error {}

export interface StartAnalysisOptions {
  taskQueue?: string;
  /** A pipeline with this ID that is already running is attached to instead of failing (default true: a repeated start is never a second run). */
  attachIfRunning?: boolean;
}

export interface AnalysisHandle {
  workflowId: string;
  raw: WorkflowHandle<typeof analysisPipeline>;
  /** The run this start created or attached to (absent for handles from analysisHandle). */
  firstExecutionRunId?: string;
  result(): Promise<AnalysisPipelineResult>;
  progress(): Promise<AnalysisProgress>;
  /** Resets a breaker and waits for the pipeline to confirm the new state. */
  resetBreaker(breaker: BreakerTarget): Promise<ResetBreakerResult>;
  /** Fire-and-forget reset, for callers that must not wait. */
  signalResetBreaker(breaker: BreakerTarget): Promise<void>;
  cancel(): Promise<void>;
}

export function analysisHandle(client: Client, pipelineIdOrWorkflowId: string): AnalysisHandle {
  const workflowId = pipelineIdOrWorkflowId.startsWith('analysis-pipeline-')
    ? pipelineIdOrWorkflowId
    : analysisPipelineWorkflowId(pipelineIdOrWorkflowId);
  return wrap(client.workflow.getHandle<typeof analysisPipeline>(workflowId));
}

function wrap(raw: WorkflowHandle<typeof analysisPipeline>, firstExecutionRunId?: string): AnalysisHandle {
  return {
    workflowId: raw.workflowId,
    raw,
    ...(firstExecutionRunId ? { firstExecutionRunId } : {}),
    result: () => raw.result(),
    progress: () => raw.query(analysisProgressQuery),
    resetBreaker: (breaker) =>
      raw.executeUpdate(resetBreakerUpdate, { args: [{ breaker }] }).catch((err: unknown) => {
        // The validator's words, not the SDK's generic "Workflow Update failed".
        if (err instanceof WorkflowUpdateFailedError && err.cause)
          throw new Error(`resetBreaker rejected: ${err.cause.message}`, { cause: err.cause });
        throw err;
      }),
    signalResetBreaker: (breaker) => raw.signal(resetBreakerSignal, { breaker }),
    cancel: () => raw.cancel().then(() => undefined),
  };
}

/** Validates at the edge (the caller sees the field at once), then starts or attaches to the pipeline. */
export async function startAnalysisPipeline(
  client: Client,
  input: AnalysisPipelineInput,
  opts: StartAnalysisOptions = {},
): Promise<AnalysisHandle> {
  const parsed = analysisPipelineSchema.safeParse(input);
  if (!parsed.success) throw new InvalidAnalysisInputError(`invalid analysis pipeline: ${describeIssues(parsed.error)}`);
  const p = parsed.data;
  const workflowId = analysisPipelineWorkflowId(p.pipelineId);
  try {
    const raw = await client.workflow.start<typeof analysisPipeline>(ANALYSIS_PIPELINE, {
      workflowId,
      taskQueue: opts.taskQueue ?? process.env.SHEPHERD_TASK_QUEUE ?? 'shepherd',
      args: [input],
      typedSearchAttributes: [
        { key: PIPELINE_KIND, value: ANALYSIS_PIPELINE },
        { key: PIPELINE_ID, value: p.pipelineId },
      ],
      memo: { description: p.description ?? '', targets: p.targets.length, analyzers: p.analyzers.map((a) => a.name) },
      staticSummary: `analysis ${p.pipelineId} (${p.targets.length} targets, ${p.analyzers.map((a) => a.name).join(', ')})`,
      workflowIdConflictPolicy: opts.attachIfRunning === false ? 'FAIL' : 'USE_EXISTING',
      // A pipeline ID names one analysis: a finished one is not run again (its children could not be).
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    return wrap(raw, raw.firstExecutionRunId);
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new Error(
        `analysis pipeline ${p.pipelineId} already exists (workflow ${workflowId}, running or finished): use a new pipelineId, or follow it with "shepherd analysis status ${p.pipelineId}"`,
        { cause: err },
      );
    }
    throw err;
  }
}

export type { AnalysisPipelineInput, AnalysisPipelineResult, AnalysisProgress, BreakerTarget };
