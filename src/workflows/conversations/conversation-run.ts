import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  TimeoutFailure,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import type { AttemptRecord, AttemptStatus } from '../../activities/conversations/audit.js';
import {
  conversationRunInputSchema,
  effectiveOutput,
  joinText,
  stepPolicy,
  type ConversationDefinition,
  type ConversationRunResult,
  type Step,
  type StepOutcome,
} from '../../shared/conversations/schemas.js';
import { checkFields } from '../../shared/conversations/output.js';
import { formatIssues, validateDefinition } from '../../shared/conversations/definition-validator.js';
import { nextStep } from '../../shared/conversations/routing.js';
import { renderMap, renderTemplate, type TemplateContext } from '../../shared/conversations/template.js';
import { parseInput } from '../validate-input.js';
import { backoffMs } from '../../shared/retry.js';
import { FailureType } from '../../shared/failure-types.js';
import { callLlm, checkModels, isUnknownModel, LOCAL_MODEL_CALL_PATCH, type Policy, type RenderedLlm } from './model-call.js';
import { recordConversationAttempt, recordUnrecorded, type RunContext } from './run-context.js';

// conversationRun: one item through a conversation definition. A generic, deterministic
// interpreter: render the step's templates, run its actor, record the attempt, route on the output.
//
// Attempts are driven here, not by the activity retry policy (each actor call has
// maximumAttempts 1): the workflow sees every attempt's outcome — including a heartbeat timeout
// Temporal declared — and appends exactly one audit row for it, keyed (run, step, attempt). A
// hung attempt's late reply is rejected by Temporal and never reaches the audit log.

const { loadConversationDefinition } = proxyActivities<Activities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 5 },
});
// A completed attempt's row is carried by the run's next model call, which writes it before it
// calls the model, instead of costing a local activity (and a workflow activation) of its own:
// ~4-5 ms of a step here. Only outcomes already in this history are carried, never the call's own,
// so a late reply still has no way into the log. Whatever the next call does not confirm — it
// failed, timed out, or no model call follows — is written by the local activity as before,
// before any failure row and before the run ends.
const CARRIED_AUDIT_PATCH = 'conversation-audit-carried-by-next-call';

interface AttemptOutcome {
  output: Record<string, unknown>;
  latencyMs?: number;
}

interface Classified {
  status: Exclude<AttemptStatus, 'completed'>;
  type: string;
  message: string;
  retryable: boolean;
}

function classify(err: unknown, step: Step, timeout: string | number, heartbeatTimeout: string | number): Classified {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof TimeoutFailure) {
    const what =
      cause.timeoutType === 'HEARTBEAT'
        ? `no heartbeat (no streamed output) for ${heartbeatTimeout}`
        : cause.timeoutType === 'START_TO_CLOSE'
          ? `attempt exceeded the step timeout of ${timeout}`
          : `${cause.timeoutType} timeout`;
    return { status: 'timed_out', type: cause.timeoutType ?? 'TIMEOUT', message: `step '${step.id}': ${what}`, retryable: true };
  }
  if (cause instanceof CancelledFailure) return { status: 'cancelled', type: 'Cancelled', message: cause.message, retryable: false };
  if (cause instanceof ApplicationFailure) {
    const timedOut = cause.type === 'ModelStalled' || cause.type === 'StepTimedOut' || cause.type === FailureType.AttemptLost;
    return {
      status: timedOut ? 'timed_out' : 'failed',
      type: cause.type ?? 'Error',
      message: cause.message,
      retryable: !cause.nonRetryable,
    };
  }
  return { status: 'failed', type: 'Error', message: (cause as Error)?.message ?? String(cause), retryable: true };
}

export async function conversationRun(rawInput: unknown): Promise<ConversationRunResult> {
  const input = parseInput(conversationRunInputSchema, rawInput);
  const rawDef = input.definition ?? (await loadConversationDefinition({ path: input.definitionFile! }));
  const v = validateDefinition(rawDef);
  if (!v.ok) throw ApplicationFailure.nonRetryable(`invalid definition: ${formatIssues(v.issues)}`, 'InvalidDefinition', v.issues);
  const def = v.definition;
  const item = input.item;
  const missing = def.item.fields.filter((f) => item[f] === undefined || item[f] === null);
  if (missing.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `item: missing field(s) ${missing.join(', ')} (definition ${def.name} needs ${def.item.fields.join(', ')})`,
      'InvalidItem',
    );
  }
  const itemKey = String(item[def.item.key]);
  const info = workflowInfo();
  const rc: RunContext = {
    item,
    itemKey,
    batchId: input.batchId,
    workflowId: info.workflowId,
    runId: info.runId,
    definition: def.name,
    unrecorded: [],
  };
  if (input.batchId === undefined) {
    // Started on its own (a batch checks once for all its items): a model no worker serves would
    // leave the call waiting on a task queue nobody polls, so refuse it before any step. When the
    // run starts with a model call, that call does the check, in the same local activity.
    const models = [...new Set(def.steps.flatMap((s) => (s.actor?.kind === 'llm' ? [s.actor.model] : [])))];
    const startsWithCall = def.steps.find((s) => s.id === def.start)?.actor?.kind === 'llm';
    if (models.length > 0 && startsWithCall && patched(LOCAL_MODEL_CALL_PATCH)) rc.modelsToCheck = models;
    else await checkModels(def.name, models);
  }
  upsertSearchAttributes({ PipelineKind: ['conversationRun'], PipelineId: [def.name], Target: [itemKey], Stage: [def.start] });

  const steps = new Map(def.steps.map((s) => [s.id, s]));
  const ctx: TemplateContext = { item, steps: {} };
  const path: StepOutcome[] = [];
  let current: string | null = def.start;
  try {
    while (current !== null) {
      const step: Step = steps.get(current)!;
      upsertSearchAttributes({ Stage: [step.id] });
      setCurrentDetails(`**${def.name}** item \`${itemKey}\`: ${[...path.map((p) => p.step), step.id].join(' → ')}`);
      const { output, attempts } = await runStep(def, step, ctx, rc);
      ctx.steps[step.id] = output;
      path.push({ step: step.id, attempts, output });
      try {
        current = nextStep(step, output);
      } catch (err) {
        // A plain throw would fail the workflow task and retry forever; end the run visibly instead.
        throw ApplicationFailure.nonRetryable((err as Error).message, 'RoutingError');
      }
    }
  } finally {
    // However the run ends (done, failed, cancelled), every attempt is in the log before it does.
    await CancellationScope.nonCancellable(() => recordUnrecorded(rc));
  }
  upsertSearchAttributes({ Stage: ['completed'] });
  // The result stays small (it lands in the batch's history): outputs live in the audit log.
  const last = path.at(-1)!;
  return {
    definition: def.name,
    itemKey,
    status: 'completed',
    path: path.map((p, i) => ({ step: p.step, attempts: p.attempts, output: i === path.length - 1 ? last.output : undefined })),
  };
}

async function runStep(
  def: ConversationDefinition,
  step: Step,
  tctx: TemplateContext,
  rc: RunContext,
): Promise<{ output: Record<string, unknown>; attempts: number }> {
  const policy = stepPolicy(def, step);
  const actor = step.actor!;
  const rendered = renderActorInput(step, tctx);
  const actorName = actor.kind === 'llm' ? actor.model : actor.kind === 'script' ? actor.command : actor.action;
  for (let attempt = 1; ; attempt++) {
    const startedAt = Date.now();
    const base: Omit<AttemptRecord, 'status' | 'finishedAt'> = {
      workflowId: rc.workflowId,
      runId: rc.runId,
      batchId: rc.batchId,
      definition: def.name,
      itemKey: rc.itemKey,
      step: step.id,
      attempt,
      actorKind: actor.kind,
      actor: actorName,
      input: rendered,
      startedAt,
    };
    let outcome: AttemptOutcome;
    try {
      // An llm step straight to its call: one async layer less on every conversation step.
      outcome =
        rendered.kind === 'llm'
          ? await callLlm(policy, step, rendered, attempt, rc)
          : await invokeActor(def, policy, step, rendered, attempt, rc);
    } catch (err) {
      // The run's model check, made by its first call: no attempt was made, so none is recorded.
      if (isUnknownModel(err)) throw err;
      const c = classify(err, step, policy.timeout, policy.heartbeatTimeout);
      // Recorded even when the run is being cancelled: the audit trail must show every attempt.
      const failed: AttemptRecord = {
        ...base,
        status: c.status,
        error: c.message,
        errorType: c.type,
        finishedAt: Date.now(),
        latencyMs: Date.now() - startedAt,
      };
      await CancellationScope.nonCancellable(async () => {
        await recordUnrecorded(rc);
        await recordConversationAttempt(failed);
      });
      if (isCancellation(err)) throw err;
      if (!c.retryable || attempt >= policy.retry.maximumAttempts) {
        const why = c.retryable ? `after ${attempt} attempt(s)` : `(not retryable, attempt ${attempt})`;
        throw ApplicationFailure.nonRetryable(`step '${step.id}' failed ${why}: ${c.message}`, 'StepFailed', {
          step: step.id,
          attempts: attempt,
          errorType: c.type,
        });
      }
      await sleep(backoffMs(policy.retry, attempt));
      continue;
    }
    const completed: AttemptRecord = {
      ...base,
      status: 'completed',
      output: outcome.output,
      latencyMs: outcome.latencyMs ?? Date.now() - startedAt,
      finishedAt: Date.now(),
    };
    if (patched(CARRIED_AUDIT_PATCH)) rc.unrecorded.push(completed);
    else await recordConversationAttempt(completed);
    return { output: outcome.output, attempts: attempt };
  }
}

type RenderedInput =
  RenderedLlm | { kind: 'script'; args: string[]; input: Record<string, string> } | { kind: 'db'; fields: Record<string, string> };

function renderActorInput(step: Step, ctx: TemplateContext): RenderedInput {
  const a = step.actor!;
  if (a.kind === 'llm') {
    return {
      kind: 'llm',
      system: a.system === undefined ? undefined : renderTemplate(joinText(a.system), ctx),
      prompt: renderTemplate(joinText(a.prompt), ctx),
    };
  }
  if (a.kind === 'script') return { kind: 'script', args: a.args.map((t) => renderTemplate(t, ctx)), input: renderMap(a.input, ctx) };
  return { kind: 'db', fields: renderMap(a.fields, ctx) };
}

async function invokeActor(
  def: ConversationDefinition,
  policy: Policy,
  step: Step,
  rendered: RenderedInput,
  attempt: number,
  rc: RunContext,
): Promise<AttemptOutcome> {
  const actor = step.actor!;
  const common = {
    startToCloseTimeout: policy.timeout,
    heartbeatTimeout: policy.heartbeatTimeout,
    // One attempt per activity: the loop in runStep retries, so every attempt is seen and recorded.
    retry: { maximumAttempts: 1 },
  };
  // Only model calls carry rows; any other activity starts after they are written.
  await recordUnrecorded(rc);
  if (actor.kind === 'script' && rendered.kind === 'script') {
    const { runConversationScript } = proxyActivities<Activities>({
      ...common,
      summary: `${step.id} · ${actor.command} · attempt ${attempt}`,
    });
    const r = await runConversationScript({
      command: actor.command,
      args: rendered.args,
      input: rendered.input,
      nonRetryableExitCodes: actor.nonRetryableExitCodes,
    });
    const out = effectiveOutput(step);
    const value = out.format === 'text' ? { text: typeof r.result === 'string' ? r.result : JSON.stringify(r.result) } : r.result;
    const checked = out.format === 'json' ? checkFields(out.fields, value) : ({ ok: true, value } as const);
    if (!checked.ok) {
      // The program kept its result-file contract but not the step's declared output.
      throw ApplicationFailure.nonRetryable(
        `step '${step.id}': script result does not match the declared output: ${checked.error}`,
        'InvalidScriptOutput',
      );
    }
    return { output: checked.value as Record<string, unknown>, latencyMs: r.durationMs };
  }
  if (actor.kind === 'db' && rendered.kind === 'db') {
    const { conversationDbAction } = proxyActivities<Activities>({
      ...common,
      retry: { maximumAttempts: 1 },
      summary: `${step.id} · ${actor.action}`,
    });
    const output = await conversationDbAction({
      action: actor.action,
      definition: def.name,
      itemKey: rc.itemKey,
      workflowId: rc.workflowId,
      runId: rc.runId,
      step: step.id,
      fields: rendered.fields,
    });
    return { output };
  }
  throw ApplicationFailure.nonRetryable(`step '${step.id}': actor and rendered input disagree`, 'InternalError');
}
