import { ActivityFailure, ApplicationFailure, patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { AttemptRecord } from '../../activities/conversations/audit.js';
import type { LocalModelCallResult } from '../../activities/conversations/local-call.js';
import {
  AUDIT_NOT_RECORDED,
  durationToMs,
  effectiveOutput,
  modelTaskQueue,
  type stepPolicy,
  type Step,
} from '../../shared/conversations/schemas.js';
import { FailureType } from '../../shared/failure-types.js';
import { recordUnrecorded, type RunContext } from './run-context.js';

// An llm step's attempt: where the model call runs, and which audit rows it carries.

const { checkConversationModels } = proxyActivities<Activities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 5 } });
// The model check of a run started on its own is one read-only query: as a local activity it
// runs inside the first workflow task instead of costing a dispatched activity and a second
// workflow task before the first step (~14 ms of a run here). Runs started before this replay
// with the dispatched activity their histories recorded.
const LOCAL_MODEL_CHECK_PATCH = 'conversation-run-local-model-check';
const { checkConversationModels: checkModelsLocally } = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 5 },
});
// A model call is first offered to the run's own worker as a local activity (activities/
// conversations/local-call.ts): when that process serves the model and has a slot free, the call
// runs there and the run goes on to its next step in the same workflow task, with no dispatch
// through the model's queue and no workflow task per step; else it returns at once and the call
// is queued as before. The first such call also does the run's model check (no query when every
// model is served there). Runs started before this replay with queued calls only.
export const LOCAL_MODEL_CALL_PATCH = 'conversation-model-call-local-first';

export type RenderedLlm = { kind: 'llm'; system?: string; prompt: string };
type LlmStep = Step & { actor: Extract<Step['actor'], { kind: 'llm' }> };
export type Policy = ReturnType<typeof stepPolicy>;

/** Refuses a definition naming a model no worker serves (a call would wait on a queue nobody polls). */
export async function checkModels(definition: string, models: string[], local = patched(LOCAL_MODEL_CHECK_PATCH)): Promise<void> {
  const check = local ? checkModelsLocally : checkConversationModels;
  refuseUnknown(definition, models.length > 0 ? await check({ models }) : { unknown: [], known: [] });
}

export function isUnknownModel(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.type === FailureType.UnknownModel;
}

function refuseUnknown(definition: string, { unknown, known }: { unknown: string[]; known: string[] }): void {
  if (unknown.length === 0) return;
  throw ApplicationFailure.nonRetryable(
    `definition ${definition} uses model(s) ${unknown.join(', ')} that no worker serves (known: ${known.join(', ') || 'none'})`,
    FailureType.UnknownModel,
  );
}

function auditNotRecorded(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === AUDIT_NOT_RECORDED;
}

function callInput(step: LlmStep, rendered: RenderedLlm, audit: AttemptRecord[] | undefined) {
  return {
    model: step.actor.model,
    system: rendered.system,
    prompt: rendered.prompt,
    output: effectiveOutput(step),
    temperature: step.actor.temperature,
    maxTokens: step.actor.maxTokens,
    ...(audit?.length ? { audit } : {}),
  };
}

/** Drops the rows a call carried from those the run still owes, once the call confirms all of them. */
function confirmCarried(rc: RunContext, carried: AttemptRecord[], recorded: number | undefined): void {
  // A worker that predates carried rows ignores them and confirms none: they stay unrecorded.
  if (carried.length > 0 && recorded === carried.length) rc.unrecorded.splice(0, carried.length);
}

/** The call queued on the model's task queue, where its worker's slot supplier admits it. */
async function callQueued(step: LlmStep, policy: Policy, rendered: RenderedLlm, attempt: number, rc: RunContext, audit?: AttemptRecord[]) {
  if (rc.modelsToCheck) {
    await checkModels(rc.definition, rc.modelsToCheck, true);
    rc.modelsToCheck = undefined;
  }
  const { callModel } = proxyActivities<Activities>({
    startToCloseTimeout: policy.timeout,
    heartbeatTimeout: policy.heartbeatTimeout,
    // One attempt per activity: the loop in runStep retries, so every attempt is seen and recorded.
    retry: { maximumAttempts: 1 },
    taskQueue: modelTaskQueue(workflowInfo().taskQueue, step.actor.model),
    summary: `${step.id} · ${step.actor.model} · attempt ${attempt}`,
  });
  return callModel(callInput(step, rendered, audit));
}

/**
 * The call offered to this worker first (a local activity). Not async, like what reads its answer:
 * every promise a workflow makes is costly here (the SDK records a stack for each), and a step is
 * on the hot path of every conversation.
 */
function offerHere(step: LlmStep, policy: Policy, rendered: RenderedLlm, attempt: number, rc: RunContext, audit: AttemptRecord[]) {
  const { callModelHere } = proxyLocalActivities<Activities>({
    startToCloseTimeout: policy.timeout,
    retry: { maximumAttempts: 1 },
    summary: `${step.id} · ${step.actor.model} · attempt ${attempt} (in the run's worker)`,
  });
  return callModelHere({
    ...callInput(step, rendered, audit),
    call: { runId: rc.runId, step: step.id, attempt },
    stallTimeoutMs: durationToMs(policy.heartbeatTimeout),
    ...(rc.modelsToCheck ? { checkModels: rc.modelsToCheck } : {}),
  });
}

/** What the offered call answered: its result when it ran here, null when it was not made here (queue it). */
function madeHere(r: LocalModelCallResult, step: LlmStep, attempt: number, rc: RunContext, audit: AttemptRecord[]) {
  if (r.checked) {
    refuseUnknown(rc.definition, r.checked);
    rc.modelsToCheck = undefined;
  }
  if (r.ran) return r;
  if (r.reason === 'lost') {
    confirmCarried(rc, audit, r.auditRecorded);
    throw ApplicationFailure.retryable(
      `step '${step.id}': attempt ${attempt} was lost: the worker calling the model stopped before the outcome reached the run`,
      FailureType.AttemptLost,
    );
  }
  return null;
}

/** One attempt of an llm step: its output, or the failure runStep classifies and records. */
export async function callLlm(
  policy: Policy,
  step: Step,
  rendered: RenderedLlm,
  attempt: number,
  rc: RunContext,
): Promise<{ output: Record<string, unknown>; latencyMs: number }> {
  const llm = step as LlmStep;
  const carried = [...rc.unrecorded];
  let r;
  try {
    const here = patched(LOCAL_MODEL_CALL_PATCH)
      ? madeHere(await offerHere(llm, policy, rendered, attempt, rc, carried), llm, attempt, rc, carried)
      : null;
    r = here ?? (await callQueued(llm, policy, rendered, attempt, rc, carried));
  } catch (err) {
    if (!auditNotRecorded(err)) throw err;
    // The model was not called: write the rows here (retrying until the database answers),
    // then make this same attempt without them.
    await recordUnrecorded(rc);
    r = await callQueued(llm, policy, rendered, attempt, rc);
  }
  confirmCarried(rc, carried, r.auditRecorded);
  return { output: r.output, latencyMs: r.latencyMs };
}
