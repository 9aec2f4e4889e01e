import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { describeSilence, type LivenessEvidence } from '../shared/step/liveness.js';

// What a workflow's running steps last said about their liveness, read from the heartbeat
// details of its pending activities (runCommand's CommandHeartbeat, trainModel's progress).
// Through the client's data converter, so a payload codec does not hide them.

export interface PendingStepLiveness {
  activityId: string;
  activityType: string;
  attempt: number;
  /** Step time of the current attempt, as of its last heartbeat. */
  elapsedMs: number | null;
  silentMs: number;
  progressTimeoutMs: number | null;
  evidence: LivenessEvidence;
  lastOutputLine: string | null;
  /** The previous attempt's failure message and type (e.g. StepStalled), when this is a retry. */
  lastFailure: string | null;
  lastFailureType: string | null;
  /** Which of the activity's processes this is about, when it runs many (a replicate batch's silentest: "replicate 17"). */
  subject?: string;
}

function record(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Liveness fields of a heartbeat: runCommand puts them at the top, trainModel under `liveness`,
 * a simulation replicate batch its silentest running replicate under `quietest`.
 */
export function livenessOfDetails(
  d: unknown,
): Omit<PendingStepLiveness, 'activityId' | 'activityType' | 'attempt' | 'lastFailure' | 'lastFailureType'> | null {
  if (typeof d !== 'object' || d === null) return null;
  const top = d as Record<string, unknown>;
  const nested = record(top.liveness);
  const quietest = record(top.quietest);
  const src = nested ?? quietest ?? top;
  const silentMs = num(src.silentMs);
  if (silentMs === null) return null;
  const replicate = quietest ? num(quietest.replicate) : null;
  return {
    elapsedMs: num(top.elapsedMs),
    silentMs,
    progressTimeoutMs: num(src.progressTimeoutMs),
    evidence: nested ? 'progress' : 'output',
    lastOutputLine: typeof top.lastOutputLine === 'string' ? top.lastOutputLine : null,
    ...(replicate !== null ? { subject: `replicate ${replicate}` } : {}),
  };
}

/** The first heartbeat detail, decoded like the SDK does: codecs last to first, then the payload converter. */
async function firstDetail(client: Client, encoded: Payload[]): Promise<unknown> {
  const { payloadCodecs, payloadConverter } = client.options.loadedDataConverter;
  let payloads = encoded;
  for (let i = payloadCodecs.length - 1; i >= 0; i--) payloads = await payloadCodecs[i]!.decode(payloads);
  return payloads[0] ? payloadConverter.fromPayload(payloads[0]) : undefined;
}

type PendingActivity = NonNullable<Awaited<ReturnType<WorkflowHandle['describe']>>['raw']['pendingActivities']>[number];

/** What one pending activity's last heartbeat says about its liveness; null when it says nothing (or cannot be decoded). */
export async function livenessOfPending(client: Client, a: PendingActivity): Promise<PendingStepLiveness | null> {
  let details: unknown;
  try {
    details = await firstDetail(client, (a.heartbeatDetails?.payloads ?? []) as Payload[]);
  } catch {
    return null;
  }
  const l = livenessOfDetails(details);
  if (!l) return null;
  return {
    activityId: a.activityId ?? '?',
    activityType: a.activityType?.name ?? '?',
    attempt: a.attempt ?? 1,
    ...l,
    lastFailure: a.lastFailure?.message ?? null,
    lastFailureType: a.lastFailure?.applicationFailureInfo?.type ?? null,
  };
}

/** "replicate 17: no output for 2m", "stalled for 5m: ...": a notable silence in one line, or null. */
export function silenceLine(l: PendingStepLiveness): string | null {
  const silence = describeSilence(l);
  return silence === null ? null : l.subject ? `${l.subject}: ${silence}` : silence;
}

/** The pending steps of one execution that report liveness; [] when it is closed or unknown. */
export async function pendingStepLiveness(client: Client, workflowId: string): Promise<PendingStepLiveness[]> {
  let desc;
  try {
    desc = await client.workflow.getHandle(workflowId).describe();
  } catch {
    return [];
  }
  const out = await Promise.all((desc.raw.pendingActivities ?? []).map((a) => livenessOfPending(client, a)));
  return out.filter((l): l is PendingStepLiveness => l !== null);
}
