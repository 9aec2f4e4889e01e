import os from 'node:os';
import { ownerIdentity } from '../step/registry.js';

// Every container and network Shepherd creates carries who made it and why, so that a reaper
// (any worker starting up, or this worker's watchdog) can find what a dead worker left, and a
// person can read the owner off `podman ps --format '{{.Labels}}'`.

export const LABEL_PREFIX = 'shepherd';
/** `<host>/<pid>/<process start time>`: one worker process, forever (a reused pid starts later). */
export const OWNER_LABEL = 'shepherd.owner';
export const OWNER_HOST_LABEL = 'shepherd.owner.host';
export const OWNER_PID_LABEL = 'shepherd.owner.pid';
export const OWNER_START_LABEL = 'shepherd.owner.start';
export const WORKFLOW_LABEL = 'shepherd.workflow';
export const RUN_LABEL = 'shepherd.run';
export const ACTIVITY_LABEL = 'shepherd.activity';
export const ATTEMPT_LABEL = 'shepherd.attempt';
export const TOKEN_LABEL = 'shepherd.token';
export const KIND_LABEL = 'shepherd.kind';
export const IMAGE_LABEL = 'shepherd.image';

export interface WorkerIdentity {
  host: string;
  pid: number;
  startTime: number;
  /** The OWNER_LABEL value. */
  id: string;
}

export function workerIdentity(): WorkerIdentity {
  const { ownerPid, ownerStartTime } = ownerIdentity();
  const host = os.hostname();
  return { host, pid: ownerPid, startTime: ownerStartTime, id: `${host}/${ownerPid}/${ownerStartTime}` };
}

export function ownerLabels(identity = workerIdentity()): Record<string, string> {
  return {
    [OWNER_LABEL]: identity.id,
    [OWNER_HOST_LABEL]: identity.host,
    [OWNER_PID_LABEL]: String(identity.pid),
    [OWNER_START_LABEL]: String(identity.startTime),
  };
}

export interface StepLabelInput {
  workflowId: string;
  runId: string;
  activityId: string;
  attempt: number;
  token: string;
  kind: 'app' | 'step';
}

export function stepLabels(step: StepLabelInput, identity = workerIdentity()): Record<string, string> {
  return {
    ...ownerLabels(identity),
    [WORKFLOW_LABEL]: step.workflowId,
    [RUN_LABEL]: step.runId,
    [ACTIVITY_LABEL]: step.activityId,
    [ATTEMPT_LABEL]: String(step.attempt),
    [TOKEN_LABEL]: step.token,
    [KIND_LABEL]: step.kind,
  };
}

/** Filter for list calls: containers (or networks) owned by `owner`, or by any Shepherd worker. */
export function ownerFilter(owner?: string): { label: string[] } {
  return { label: [owner ? `${OWNER_LABEL}=${owner}` : OWNER_LABEL] };
}
