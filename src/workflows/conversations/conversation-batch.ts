import {
  ApplicationFailure,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import {
  conversationBatchInputSchema,
  type BatchState,
  type ConversationBatch,
  type ConversationBatchInput,
  type ConversationBatchResult,
  type ConversationDefinition,
  type FailedItem,
  type Item,
} from '../../shared/conversations/schemas.js';
import {
  conversationBatchProgressQuery,
  legacyConversationProgressQuery,
  retryFailedSignal,
  type ConversationBatchProgress,
} from '../../shared/conversations/messages.js';
import { conversationItemWorkflowId } from '../../shared/conversations/workflow-ids.js';
import { forEachLimited } from '../../shared/concurrency.js';
import { conversationRun } from './conversation-run.js';
import { formatIssues, validateDefinition } from '../../shared/conversations/definition-validator.js';
import { parseInput } from '../validate-input.js';
import { ALL_FAILED_PATCH, allItemsFailed, decideOutcome, outcomeHeadline, type Outcome } from '../../shared/outcome.js';

// conversationBatch: items from a source (JSONL file, read-only SQL query, inline list), each a
// child conversationRun, at most `concurrency` at once; one page per run, then continue-as-new,
// until a read returns nothing. The seed's batches stopped at 66% because nothing fetched the next
// batch and a failed parent blocked its child forever; here a failed item fails alone, is listed
// with its error, and can be retried with the retryFailed signal (or `retryFailedItems` from
// src/client/conversations.ts once the batch has closed). Running dry is announced, not silent.

export { conversationBatchProgressQuery, retryFailedSignal };
export type { ConversationBatchProgress };

const { loadConversationDefinition, readConversationItems, checkConversationModels } = proxyActivities<Activities>({
  startToCloseTimeout: '2m',
  retry: { maximumAttempts: 10, maximumInterval: '30s' },
});
const { notifyWebhook } = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3, initialInterval: '2s' } });

const RETRY_AT_DRY_PATCH = 'conversation-batch-retry-signal-at-dry';
const ITEM_DEDUPE_PATCH = 'conversation-batch-item-dedupe';

/** Failed items kept with their payload (for retries); beyond this they are only counted. */
const MAX_FAILED_KEPT = 500;

export { conversationItemWorkflowId };

function rootCause(err: unknown): { message: string; step?: string } {
  let e = err as Error & { cause?: Error; details?: unknown[] };
  let step: string | undefined;
  while (e) {
    const d = (e as { details?: unknown[] }).details?.[0] as { step?: string } | undefined;
    if (d?.step) step = d.step;
    if (!e.cause) break;
    e = e.cause as typeof e;
  }
  return { message: e?.message ?? String(err), step };
}

export async function conversationBatch(rawInput: unknown): Promise<ConversationBatchResult> {
  const input = parseInput(conversationBatchInputSchema, rawInput);
  const { batchId } = input;
  const firstRun = input.state === undefined;
  const state: BatchState = input.state ?? {
    cursor: null,
    page: 0,
    completed: 0,
    failed: [],
    failedOmitted: 0,
    retried: 0,
    pendingRetry: [],
    alreadyDone: 0,
  };

  const rawDef = input.definition ?? (await loadConversationDefinition({ path: input.definitionFile! }));
  const v = validateDefinition(rawDef);
  if (!v.ok) throw ApplicationFailure.nonRetryable(`invalid definition: ${formatIssues(v.issues)}`, 'InvalidDefinition', v.issues);
  const def: ConversationDefinition = v.definition;

  if (firstRun) {
    const models = [...new Set(def.steps.flatMap((s) => (s.actor?.kind === 'llm' ? [s.actor.model] : [])))];
    if (models.length > 0) {
      const { unknown, known } = await checkConversationModels({ models });
      if (unknown.length > 0) {
        throw ApplicationFailure.nonRetryable(
          `definition ${def.name} uses model(s) ${unknown.join(', ')} that no worker serves (known: ${known.join(', ') || 'none'})`,
          'UnknownModel',
        );
      }
    }
    upsertMemo({ definition: def.name, definitionVersion: def.version ?? null, source: input.source.kind });
  }
  upsertSearchAttributes({ PipelineKind: ['conversationBatch'], PipelineId: [batchId], Target: [def.name], Stage: ['running'] });

  const running = new Set<string>();
  setHandler(retryFailedSignal, (arg) => {
    const keys = arg?.keys;
    const keep: FailedItem[] = [];
    for (const f of state.failed) {
      if (f.step !== 'source' && (keys === undefined || keys.includes(f.key))) state.pendingRetry.push(f.item);
      else keep.push(f);
    }
    state.failed = keep;
  });
  const progress = (): ConversationBatchProgress => ({
    batchId,
    page: state.page,
    completed: state.completed,
    failed: state.failed.length + state.failedOmitted,
    running: [...running],
    pendingRetry: state.pendingRetry.length,
  });
  setHandler(conversationBatchProgressQuery, progress);
  setHandler(legacyConversationProgressQuery, progress);
  const refresh = () =>
    setCurrentDetails(
      `**Batch ${batchId}** (${def.name}) page ${state.page}: ${state.completed} completed, ${state.failed.length + state.failedOmitted} failed, ${running.size} running`,
    );
  refresh();

  const fail = (f: FailedItem) => {
    if (state.failed.length < MAX_FAILED_KEPT) state.failed.push(f);
    else state.failedOmitted++;
  };

  // Retries first; otherwise the next page of the source.
  let page: Item[] = state.pendingRetry.splice(0);
  if (page.length > 0) state.retried += page.length;
  else {
    const r = await readConversationItems({ source: input.source, cursor: state.cursor, limit: input.pageSize });
    page = r.items;
    state.cursor = r.nextCursor;
    for (const bad of r.invalid) fail({ key: bad.position, item: {}, step: 'source', error: bad.error });
  }

  if (page.length === 0) {
    // The source ran dry: say so, optionally wait for retries, then finish.
    const notified = await announceDry(input, def, state);
    if (input.holdForRetry !== undefined && state.failed.length > 0) {
      upsertSearchAttributes({ Stage: ['waiting_for_retry'] });
      if (await condition(() => state.pendingRetry.length > 0, input.holdForRetry)) {
        return continueAsNew<typeof conversationBatch>(nextInput(input, def, state));
      }
    }
    // A retryFailed signal that arrived while the notice was on its way has already moved its
    // items out of `failed`: run them instead of ending without them. (patched: histories in
    // which the old code ended here replay unchanged.)
    if (state.pendingRetry.length > 0 && patched(RETRY_AT_DRY_PATCH)) {
      return continueAsNew<typeof conversationBatch>(nextInput(input, def, state));
    }
    const failedCount = state.failed.length + state.failedOmitted;
    const outcome = decideOutcome(state.completed, failedCount) as Exclude<Outcome, 'cancelled'>;
    // Patched: batches recorded before the shared outcome rule ended as source_exhausted, always.
    const honest = patched(ALL_FAILED_PATCH);
    upsertSearchAttributes({ Stage: [honest ? outcome : 'source_exhausted'] });
    const result: ConversationBatchResult = {
      batchId,
      status: 'source_exhausted',
      message: dryMessage(def, state),
      completed: state.completed,
      ...(state.alreadyDone > 0 ? { alreadyDone: state.alreadyDone } : {}),
      failed: failedCount,
      failedItems: state.failed,
      failedOmitted: state.failedOmitted,
      pages: state.page,
      notified,
      ...(honest ? { outcome } : {}),
    };
    if (honest) {
      const headline = outcomeHeadline(outcome, state.completed, failedCount, 'items');
      setCurrentDetails(`**Batch ${batchId}** (${def.name}) ${headline}; ${state.page} page(s)`);
      if (outcome === 'failed') throw allItemsFailed(`conversation batch ${batchId}: ${headline}`, result);
    }
    return result;
  }

  state.page++;
  refresh();
  await forEachLimited(page, input.concurrency, async (item) => {
    const rawKey = item[def.item.key];
    if (rawKey === undefined || rawKey === null || rawKey === '') {
      fail({ key: `page${state.page}-missing-key`, item, step: 'source', error: `item has no key field '${def.item.key}'` });
      return;
    }
    const key = String(rawKey);
    const duplicateInSource = running.has(key);
    running.add(key);
    refresh();
    // A batch ID started again must not run its items again: a completed item's workflow ID is
    // not reused (a failed one is, so retries still work).
    const dedupe = patched(ITEM_DEDUPE_PATCH);
    try {
      await executeChild(conversationRun, {
        workflowId: conversationItemWorkflowId(batchId, key),
        args: [{ definition: def, item, batchId }],
        staticSummary: `${def.name} · ${key}`,
        ...(dedupe ? { workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY } : {}),
      });
      state.completed++;
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (dedupe && !duplicateInSource && (err as Error)?.name === 'WorkflowExecutionAlreadyStartedError') {
        state.alreadyDone++;
      } else if ((err as Error)?.name === 'WorkflowExecutionAlreadyStartedError') {
        fail({ key, item, error: `an execution for item ${key} is already running (duplicate key in the source?)` });
      } else {
        const { message, step } = err instanceof ChildWorkflowFailure ? rootCause(err) : { message: String(err), step: undefined };
        fail({ key, item, step, error: message });
      }
    } finally {
      running.delete(key);
      refresh();
    }
  });
  // Every child of this page has finished: continue-as-new cannot orphan (or terminate) one.
  return continueAsNew<typeof conversationBatch>(nextInput(input, def, state));
}

function nextInput(input: ConversationBatch, def: ConversationDefinition, state: BatchState): ConversationBatchInput {
  // The loaded definition travels with the batch: a file edited mid-batch cannot change it.
  const { definitionFile: _omit, ...rest } = input;
  return { ...rest, definition: def, state };
}

function dryMessage(def: ConversationDefinition, state: BatchState): string {
  const failed = state.failed.length + state.failedOmitted;
  const retry = failed > 0 ? ` Retry them with the retryFailed signal (or shepherd conversations retry ${workflowInfo().workflowId}).` : '';
  return `source ran dry: no more items for ${def.name} after ${state.page} page(s); ${state.completed} completed, ${failed} failed.${retry}`;
}

async function announceDry(input: ConversationBatch, def: ConversationDefinition, state: BatchState): Promise<boolean> {
  if (!input.notify) return false;
  try {
    const rows = state.failed.slice(0, 30).map((f) => ({ item: f.key, step: f.step ?? '-', error: f.error }));
    const r = await notifyWebhook({
      title: `Conversation batch ${input.batchId}: source ran dry, ${outcomeHeadline(decideOutcome(state.completed, state.failed.length + state.failedOmitted), state.completed, state.failed.length + state.failedOmitted, 'items')}`,
      text: dryMessage(def, state),
      table: rows.length > 0 ? { rows } : undefined,
    });
    return r.sent;
  } catch (err) {
    // The webhook never fails the batch, but a cancelled batch ends cancelled, not "exhausted".
    if (isCancellation(err)) throw err;
    return false;
  }
}
