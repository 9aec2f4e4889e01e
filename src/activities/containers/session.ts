import { mkdir, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type Docker from 'dockerode';
import type { ActivityDeps } from '../deps.js';
import { attemptDeadline, heartbeatIntervalMs } from '../step/command.js';
import { workspacePath } from '../step/workspace.js';
import { dockerClient, dockerEndpoint, pingRuntime } from './client.js';
import { stepLabels } from './labels.js';
import { ensureContainerWatchdog } from './watchdog.js';

// What every container activity does first: a client, the watchdog guarding this worker's
// containers, a fresh workspace for logs, the labels, and a heartbeat loop that keeps going
// during clean-up (stopping can take the grace period, longer than a heartbeat timeout).

export interface ContainerSession {
  docker: Docker;
  token: string;
  labels: Record<string, string>;
  workspace: string;
  /** Short, unique, valid container name. */
  name: string;
  attempt: number;
  signal: AbortSignal;
  startedAt: number;
  /** Epoch ms by which the container must be gone (just before start-to-close), if any. */
  deadline?: number;
  setBeat(details: Record<string, unknown>): void;
  end(): void;
}

export async function openSession(
  deps: ActivityDeps,
  kind: 'app' | 'step',
  deadlineOf: (startedAt: number, startToCloseMs?: number) => number | undefined,
): Promise<ContainerSession> {
  const ctx = Context.current();
  const { info } = ctx;
  const startedAt = Date.now();
  const token = randomUUID();
  const workflowId = info.workflowExecution?.workflowId ?? `activity-${info.activityId}`;
  const runId = info.workflowExecution?.runId ?? '';
  const docker = dockerClient(deps.dockerHost);
  const ep = dockerEndpoint(deps.dockerHost);
  let beat: Record<string, unknown> = { state: 'preparing', elapsedMs: 0 };
  ctx.heartbeat(beat);
  const timer = setInterval(
    () => ctx.heartbeat({ ...beat, elapsedMs: Date.now() - startedAt }),
    heartbeatIntervalMs(info.heartbeatTimeoutMs),
  );
  try {
    await pingRuntime(docker, ep).catch((err: Error) => {
      throw ApplicationFailure.retryable(err.message, 'ContainerRuntimeUnavailable');
    });
    ensureContainerWatchdog(deps.dockerHost, deps.logger);
    const workspace = workspacePath(deps.runsDir, { workflowId, activityId: info.activityId, attempt: info.attempt });
    await rm(workspace, { recursive: true, force: true });
    await mkdir(workspace, { recursive: true });
    return {
      docker,
      token,
      labels: stepLabels({ workflowId, runId, activityId: info.activityId, attempt: info.attempt, token, kind }),
      workspace,
      name: `shepherd-${kind}-${token.slice(0, 13).replace('-', '')}`,
      attempt: info.attempt,
      signal: ctx.cancellationSignal,
      startedAt,
      deadline: deadlineOf(startedAt, info.startToCloseTimeoutMs),
      setBeat: (details) => {
        beat = details;
        ctx.heartbeat({ ...beat, elapsedMs: Date.now() - startedAt });
      },
      end: () => clearInterval(timer),
    };
  } catch (err) {
    clearInterval(timer);
    throw err;
  }
}

/**
 * When to begin stopping so the container is gone before the server times the attempt out:
 * runCommand's attempt deadline, less the stop's grace and a second for removal (never earlier
 * than half the timeout).
 */
export function containerDeadline(startedAt: number, startToCloseMs: number | undefined, graceMs: number): number | undefined {
  const d = attemptDeadline(startedAt, startToCloseMs);
  if (d === undefined || !startToCloseMs) return undefined;
  return Math.max(startedAt + startToCloseMs / 2, d - graceMs - 1000);
}

/** Resolves at `deadline` (never when undefined); the timer does not keep the process alive. */
export function untilDeadline(deadline: number | undefined): { promise: Promise<'deadline'>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<'deadline'>((resolve) => {
    if (deadline !== undefined) timer = setTimeout(() => resolve('deadline'), Math.max(0, deadline - Date.now()));
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

export function untilAborted(signal: AbortSignal): Promise<'aborted'> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve('aborted');
    signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
}
