import { Context } from '@temporalio/activity';
import { claimModelCallWithRows, modelCallClaimed, type ModelCallKey } from '../../db/conversations/model-calls.js';
import type { AttemptRecord } from '../../db/conversations/attempts.js';
import type { ActivityDeps } from '../deps.js';
import { auditNotRecorded, checkCarried } from './audit.js';
import { callAndCheck, type ModelCallInput, type ModelCallResult } from './llm.js';

// A model call the workflow's own worker makes as a local activity, when this process serves the
// model and one of its slots is free now: no task-queue dispatch, and the run goes on to its next
// step inside the same workflow task, so a step costs the call and its audit row, not a server
// round trip. Otherwise nothing is done and the workflow sends the call to the model's queue.
//
// What a queued call has from Temporal, this one does for itself: the step's heartbeat timeout is
// a watchdog on the stream (no byte for that long ends it as ModelStalled, a timed-out attempt);
// the step timeout is the local activity's start-to-close; and since nothing of it reaches
// Temporal before the workflow task completes, the attempt is claimed in PostgreSQL before the
// model is called, so a replay after the worker died finds it started and records it as lost.

export interface LocalModelCallInput extends ModelCallInput {
  /** Which attempt this is; claimed before the model is called. */
  call: ModelCallKey;
  /** No streamed byte for this long ends the call as stalled (the step's heartbeat timeout). */
  stallTimeoutMs: number;
  /** The run's models, when this call is also its model check (done before anything else). */
  checkModels?: string[];
}

export interface ModelCheck {
  unknown: string[];
  known: string[];
}

export type LocalModelCallResult = { checked?: ModelCheck } & (
  | ({ ran: true } & ModelCallResult)
  /** Not served here, no slot free now, or a model unknown: the model was not called. */
  | { ran: false; reason: 'no-slot' }
  /** An earlier execution of this attempt claimed it and its outcome never reached the run. */
  | { ran: false; reason: 'lost'; auditRecorded?: number }
);

type Deps = Pick<ActivityDeps, 'pool' | 'logger' | 'modelSlots'>;

/**
 * `check` answers which models no worker serves (checkConversationModels); models this process
 * serves are known without asking it. A check that fails leaves `checked` unset: the workflow
 * then checks on its own, with retries, before it queues the call.
 */
export function createLocalModelCall(deps: Deps, check: (models: string[]) => Promise<ModelCheck>) {
  const checkModels = async (models: string[]): Promise<ModelCheck | undefined> => {
    if (models.every((m) => deps.modelSlots?.serves(m))) return { unknown: [], known: [...models].sort() };
    return check(models).catch(() => undefined);
  };
  return {
    async callModelHere(input: LocalModelCallInput): Promise<LocalModelCallResult> {
      const checked = input?.checkModels ? await checkModels(input.checkModels) : undefined;
      if (checked?.unknown.length) return { checked, ran: false, reason: 'no-slot' };
      return { ...(checked ? { checked } : {}), ...(await callWithLease(deps, input)) };
    },
  };
}

async function callWithLease(deps: Deps, input: LocalModelCallInput): Promise<LocalModelCallResult> {
  // The model worker's own settings for the model: the call is made as that worker would.
  const lease = deps.modelSlots && input?.model ? await deps.modelSlots.lease(input.model) : null;
  if (!lease) return (await claimedBefore(deps, input.call)) ? { ran: false, reason: 'lost' } : { ran: false, reason: 'no-slot' };
  try {
    const carried = input.audit ?? [];
    const auditRecorded = carried.length > 0 ? carried.length : undefined;
    const claimed = await claim(deps, input.call, carried);
    if (!claimed) return { ran: false, reason: 'lost', auditRecorded };
    const { cancellationSignal } = Context.current();
    const r = await callAndCheck(lease.config, input, { signal: cancellationSignal, idleTimeoutMs: input.stallTimeoutMs }, deps.logger);
    return { ran: true, ...r, auditRecorded };
  } finally {
    lease.release();
  }
}

/**
 * Before a call is queued instead: had a worker that served the model locally claimed this same
 * attempt (and died, or its workflow task failed), the model may have answered a call nobody
 * recorded, so the attempt counts as lost, whichever worker replays the run.
 */
async function claimedBefore(deps: Deps, key: ModelCallKey): Promise<boolean> {
  try {
    return await modelCallClaimed(deps.pool, key);
  } catch (err) {
    deps.logger.warn({ err: (err as Error).message, ...key }, 'could not tell whether this model call was made before; queuing it');
    return false;
  }
}

async function claim(deps: Pick<ActivityDeps, 'pool'>, key: ModelCallKey, carried: AttemptRecord[]): Promise<boolean> {
  checkCarried(carried);
  try {
    return await claimModelCallWithRows(deps.pool, key, carried);
  } catch (err) {
    // Not called, and nothing of it recorded: the workflow writes its rows and queues the call.
    throw auditNotRecorded(
      `the call could not be recorded as started (nor the earlier attempts it carried), so the model was not called: ${(err as Error).message}`,
    );
  }
}
