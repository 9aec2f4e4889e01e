import { Context } from '@temporalio/activity';
import { stdSerializers } from 'pino';

// What every Shepherd log line carries beyond pino's defaults.

/** Inside an activity: its workflow, activity type, activity ID and attempt; elsewhere nothing. */
export function activityLogFields(): Record<string, unknown> {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return {};
  }
  const { info } = ctx;
  return {
    workflowId: info.workflowExecution?.workflowId,
    workflowType: info.workflowType,
    activity: info.activityType,
    activityId: info.activityId,
    attempt: info.attempt,
  };
}

/**
 * An error as JSON: message, type (class), stack and its cause chain (errWithCause), plus a
 * Temporal failure's own `type` (CommandFailed, ...) as failureType — where a plain
 * JSON.stringify of an Error gives `{}`.
 */
export function serializeError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const out = stdSerializers.errWithCause(value) as Record<string, unknown>;
  const failureType = (value as { type?: unknown }).type;
  if (typeof failureType === 'string') out.failureType = failureType;
  return out;
}
