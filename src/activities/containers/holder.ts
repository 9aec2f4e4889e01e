import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { describeIssues } from '../../shared/schemas.js';
import { durationToMs } from '../../shared/conversations/schemas.js';
import { appContainerSpecSchema, type AppAddress, type AppContainerSpecInput } from '../../shared/containers.js';
import type { ActivityDeps } from '../deps.js';
import { describeEnd, tailText, wasOomKilled } from './failure.js';
import { oomKillCount } from '../step/proc-stats.js';
import { probeHttp } from './health.js';
import { createAndStart, ensureNetwork, exitState, publishedPort, removeNetworkIfUnused, stopAndRemove } from './lifecycle.js';
import { captureLogs, type CapturedLogs } from './logs.js';
import { containerDeadline, openSession, untilAborted, untilDeadline, type ContainerSession } from './session.js';
import { ownerLabels } from './labels.js';
import type Docker from 'dockerode';

// holdAppContainer: the app a target's analyzers run against, alive exactly as long as this
// activity. It starts the container, proves it healthy over the very address it hands out (the
// published port the runtime reports, or the container name on the per-analysis network),
// signals that address to the owning workflow, then holds — heartbeating state and health —
// until the workflow cancels it. Whatever ends it, the container is stopped and removed.

export const holdAppInputSchema = z
  .object({
    spec: appContainerSpecSchema,
    owner: z.object({ workflowId: z.string().min(1), runId: z.string() }).strict(),
    readySignal: z.string().min(1),
    graceSeconds: z.number().int().min(0).max(300).default(5),
  })
  .strict();

export interface HoldAppInput {
  spec: AppContainerSpecInput;
  owner: { workflowId: string; runId: string };
  readySignal: string;
  graceSeconds?: number;
}

/** Per-analysis network: one per owning workflow, so its analyses share DNS and nothing else. */
export function analysisNetworkName(workflowId: string): string {
  return `shepherd-net-${createHash('sha256').update(workflowId).digest('hex').slice(0, 16)}`;
}

function unhealthy(reason: string, logs: CapturedLogs | undefined, details: Record<string, unknown>): ApplicationFailure {
  return ApplicationFailure.create({
    message: `app container never became healthy: ${reason}${tailText(logs?.tail() ?? [])}`,
    type: 'AppUnhealthy',
    details: [{ reason, logTail: logs?.tail() ?? [], ...details }],
  });
}

interface Healthy {
  address: AppAddress;
  health: string;
}

async function waitHealthy(
  s: ContainerSession,
  container: Docker.Container,
  logs: CapturedLogs,
  spec: z.infer<typeof appContainerSpecSchema>,
  network: string,
  hasExited: () => boolean,
): Promise<Healthy> {
  const hostPort = await publishedPort(container, spec.port);
  const timeoutMs = durationToMs(spec.healthTimeout);
  const until = Date.now() + timeoutMs;
  const url = `http://127.0.0.1:${hostPort}${spec.healthPath}`;
  let last: string;
  for (let delay = 50; ; delay = Math.min(delay * 2, 250)) {
    s.signal.throwIfAborted();
    const probe = await probeHttp('127.0.0.1', hostPort, spec.healthPath, Math.min(2000, Math.max(200, until - Date.now())));
    if (probe.healthy) {
      return {
        health: `healthy (${probe.detail})`,
        address: {
          containerId: container.id,
          name: s.name,
          host: { host: '127.0.0.1', port: hostPort },
          network: { name: network, host: s.name, port: spec.port },
        },
      };
    }
    last = probe.detail;
    // One wait() call watches for the exit; inspecting after every failed probe slowed polling.
    const state = hasExited() ? await exitState(container) : undefined;
    if (state && !state.running) {
      await logs.finalize(container);
      throw unhealthy(
        `the container ${describeEnd({ ...state, oomKillsDuringStep: null, timedOut: false, memoryLimitBytes: null })} before answering ${url}`,
        logs,
        { exitCode: state.exitCode, oomKilled: state.oomKilled, url },
      );
    }
    s.setBeat({ state: 'waiting-health', containerId: container.id, health: `unhealthy: ${last}`, url });
    if (Date.now() + delay >= until) {
      throw unhealthy(
        `${url} did not answer 2xx/3xx within ${spec.healthTimeout} (last: ${last}; the app must listen on port ${spec.port} inside the container)`,
        logs,
        { url, lastProbe: last },
      );
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

export async function holdAppContainer(deps: ActivityDeps, input: HoldAppInput): Promise<never> {
  const parsed = holdAppInputSchema.safeParse(input);
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(`invalid holdAppContainer input: ${describeIssues(parsed.error)}`, 'InvalidContainerSpec');
  const { spec, owner, readySignal, graceSeconds } = parsed.data;
  const client: Client = deps.temporalClient ?? Context.current().client;
  const s = await openSession(deps, 'app', (startedAt, stc) => containerDeadline(startedAt, stc, graceSeconds * 1000));
  const network = analysisNetworkName(owner.workflowId);
  const deadline = untilDeadline(s.deadline);
  let container: Docker.Container | undefined;
  let logs: CapturedLogs | undefined;
  try {
    s.setBeat({ state: 'creating', image: spec.image, health: 'unknown' });
    await ensureNetwork(s.docker, network, { ...ownerLabels(), 'shepherd.workflow': owner.workflowId });
    try {
      container = await createAndStart(s.docker, {
        name: s.name,
        image: spec.image,
        cmd: spec.cmd,
        env: spec.env,
        labels: s.labels,
        limits: spec.limits,
        port: spec.port,
        network,
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'ImageNotFound')
        throw ApplicationFailure.nonRetryable((err as Error).message, 'ImageNotFound');
      throw err;
    }
    const oomBefore = oomKillCount();
    logs = await captureLogs(s.docker, container, s.workspace);
    const c = container;
    const l = logs;
    let exitedFlag = false;
    const exited = c.wait().then(
      () => void (exitedFlag = true),
      () => void (exitedFlag = true),
    );
    const healthy = await Promise.race([
      waitHealthy(s, c, l, spec, network, () => exitedFlag),
      deadline.promise.then(() => {
        throw ApplicationFailure.retryable(
          `app container did not become healthy before the activity's start-to-close timeout${tailText(l.tail())}`,
          'StepTimedOut',
        );
      }),
    ]);
    s.setBeat({ state: 'signalling', containerId: c.id, health: healthy.health, address: healthy.address });
    await client.workflow.getHandle(owner.workflowId, owner.runId || undefined).signal(readySignal, healthy.address);
    s.setBeat({ state: 'held', containerId: c.id, health: healthy.health, address: healthy.address });
    const outcome = await Promise.race([exited.then(() => 'exited' as const), untilAborted(s.signal), deadline.promise]);
    if (outcome === 'aborted') throw s.signal.reason;
    if (outcome === 'deadline') {
      throw ApplicationFailure.retryable(
        `app container held until the activity's start-to-close timeout; stopped and removed${tailText(l.tail())}`,
        'StepTimedOut',
      );
    }
    await l.finalize(c);
    const state = await exitState(c);
    const oomAfter = oomKillCount();
    const facts = {
      ...state,
      oomKillsDuringStep: oomBefore !== undefined && oomAfter !== undefined ? oomAfter - oomBefore : null,
      timedOut: false,
      memoryLimitBytes: spec.limits?.memoryMb ? spec.limits.memoryMb * 1024 * 1024 : null,
    };
    throw ApplicationFailure.create({
      message: `app container ${s.name} ${describeEnd(facts)} while held${tailText(l.tail())}`,
      type: 'AppContainerExited',
      details: [
        {
          exitCode: state.exitCode,
          oomKilled: wasOomKilled(facts),
          runtimeOomKilled: state.oomKilled,
          logTail: l.tail(),
          containerId: c.id,
          logFiles: l.files,
        },
      ],
    });
  } finally {
    deadline.cancel();
    s.setBeat({ state: 'stopping', containerId: container?.id ?? null });
    if (container)
      await stopAndRemove(container, graceSeconds).catch((err: Error) =>
        deps.logger.error({ err, container: container!.id }, 'could not remove app container'),
      );
    logs?.close();
    await removeNetworkIfUnused(s.docker, network);
    s.end();
  }
}
