import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { durationSchema, describeIssues } from '../../shared/schemas.js';
import { durationToMs } from '../../shared/conversations/schemas.js';
import { containerLimitsSchema } from '../../shared/containers.js';
import type { ActivityDeps } from '../deps.js';
import { assertContainerSucceeded } from './failure.js';
import { createAndStart, exitState, stopAndRemove } from './lifecycle.js';
import { captureLogs, type CapturedLogs } from './logs.js';
import { oomKillCount } from '../step/proc-stats.js';
import { containerDeadline, openSession, untilAborted, untilDeadline } from './session.js';

/** Grace when stopping at a deadline: there is no time left to be generous. */
const DEADLINE_GRACE_S = 1;

// runContainerStep: the container counterpart of runCommand. One container per attempt,
// labelled with its owner, logs in the attempt's workspace, and stopped (grace, then kill) and
// removed whatever ends the attempt: exit, cancellation, deadline, worker shutdown or failure.

export const containerStepSchema = z
  .object({
    image: z.string().min(1),
    cmd: z.array(z.string()).min(1),
    env: z.record(z.string(), z.string()).optional(),
    limits: containerLimitsSchema.optional(),
    /** Wall-clock limit of the container; the activity's start-to-close timeout also applies. */
    timeout: durationSchema,
    /** A user-created network to join; default none (a step gets no network unless it asks). */
    network: z.string().min(1).optional(),
    graceSeconds: z.number().int().min(0).max(300).default(5),
    nonRetryableExitCodes: z.array(z.number().int()).default([]),
  })
  .strict();

export type ContainerStepInput = z.input<typeof containerStepSchema>;

export interface ContainerStepResult {
  exitCode: 0;
  oomKilled: false;
  logTail: string[];
  durationMs: number;
  workspace: string;
  containerId: string;
}

export function parseContainerStep(input: unknown): z.infer<typeof containerStepSchema> {
  const r = containerStepSchema.safeParse(input);
  if (!r.success) throw ApplicationFailure.nonRetryable(`invalid container step: ${describeIssues(r.error)}`, 'InvalidContainerSpec');
  return r.data;
}

export async function runContainerStep(deps: ActivityDeps, input: ContainerStepInput): Promise<ContainerStepResult> {
  const spec = parseContainerStep(input);
  const timeoutMs = durationToMs(spec.timeout);
  const s = await openSession(deps, 'step', (startedAt, stc) => {
    const fromActivity = containerDeadline(startedAt, stc, DEADLINE_GRACE_S * 1000);
    return Math.min(fromActivity ?? Infinity, startedAt + timeoutMs);
  });
  let container: Awaited<ReturnType<typeof createAndStart>> | undefined;
  let logs: CapturedLogs | undefined;
  const deadline = untilDeadline(s.deadline);
  try {
    s.signal.throwIfAborted();
    s.setBeat({ state: 'creating', image: spec.image });
    try {
      container = await createAndStart(s.docker, {
        name: s.name,
        image: spec.image,
        cmd: spec.cmd,
        env: spec.env,
        labels: s.labels,
        limits: spec.limits,
        network: spec.network ?? 'none',
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'ImageNotFound')
        throw ApplicationFailure.nonRetryable((err as Error).message, 'ImageNotFound');
      throw err;
    }
    const started = Date.now();
    const oomBefore = oomKillCount();
    logs = await captureLogs(s.docker, container, s.workspace);
    const l = logs;
    s.setBeat({ state: 'running', containerId: container.id });
    const beatTimer = setInterval(() => s.setBeat({ state: 'running', containerId: container!.id, lastOutputLine: l.lastLine() }), 1000);
    const outcome = await Promise.race([container.wait().then(() => 'exited' as const), untilAborted(s.signal), deadline.promise]).finally(
      () => clearInterval(beatTimer),
    );
    if (outcome !== 'exited') {
      s.setBeat({ state: 'stopping', containerId: container.id, reason: outcome });
      await stopAndRemove(container, outcome === 'deadline' ? Math.min(spec.graceSeconds, DEADLINE_GRACE_S) : spec.graceSeconds);
      container = undefined;
      // Removed: everything it will ever print has been printed (podman may not even have
      // answered the follow request of a silent container).
      logs.close();
      if (outcome === 'aborted') throw s.signal.reason;
    }
    if (container) await logs.finalize(container);
    else await logs.done;
    const state = container ? await exitState(container) : { exitCode: -1, oomKilled: false };
    const oomAfter = oomKillCount();
    const end = {
      image: spec.image,
      cmd: spec.cmd,
      containerId: container?.id ?? '',
      exitCode: state.exitCode,
      oomKilled: state.oomKilled,
      oomKillsDuringStep: oomBefore !== undefined && oomAfter !== undefined ? oomAfter - oomBefore : null,
      timedOut: outcome === 'deadline',
      durationMs: Date.now() - started,
      logTail: logs.tail(),
      workspace: s.workspace,
      memoryLimitBytes: spec.limits?.memoryMb ? spec.limits.memoryMb * 1024 * 1024 : null,
      logFiles: logs.files,
      attempt: s.attempt,
      nonRetryableExitCodes: spec.nonRetryableExitCodes,
    };
    assertContainerSucceeded(end);
    return {
      exitCode: 0,
      oomKilled: false,
      logTail: end.logTail,
      durationMs: end.durationMs,
      workspace: s.workspace,
      containerId: end.containerId,
    };
  } finally {
    deadline.cancel();
    if (container)
      await stopAndRemove(container, spec.graceSeconds).catch((err: Error) =>
        deps.logger.error({ err, container: container!.id }, 'could not remove step container'),
      );
    logs?.close();
    s.end();
  }
}
