import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { createContainerActivities } from '../../src/activities/containers/index.js';
import type { AppAddress, AppContainerSpecInput } from '../../src/shared/containers.js';

// Test-only workflows driving the container activities the way appAnalysis does: the holder in
// a cancellation scope, its address by signal, and a cancellation awaited to completion.

type Acts = ReturnType<typeof createContainerActivities>;

export const appReady = defineSignal<[AppAddress]>('appReady');
export const release = defineSignal('release');
export interface ProbeState {
  address?: AppAddress;
  failure?: { type?: string; message: string; details?: unknown };
  phase: string;
}
export const probeState = defineQuery<ProbeState>('probeState');

function describe(err: unknown): ProbeState['failure'] {
  let e = err as { cause?: unknown; message: string };
  while (e.cause && !(e instanceof ApplicationFailure)) e = e.cause as typeof e;
  const app = e as ApplicationFailure;
  return { type: app.type ?? undefined, message: app.message, details: app.details?.[0] };
}

export async function containerHoldProbe(input: { spec: AppContainerSpecInput; startToCloseTimeout?: string }): Promise<ProbeState> {
  const { holdAppContainer } = proxyActivities<Acts>({
    startToCloseTimeout: input.startToCloseTimeout ?? '10m',
    heartbeatTimeout: '10s',
    retry: { maximumAttempts: 1 },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const state: ProbeState = { phase: 'starting' };
  let released = false;
  let done = false;
  setHandler(probeState, () => state);
  setHandler(appReady, (a) => {
    state.address = a;
    state.phase = 'held';
  });
  setHandler(release, () => void (released = true));
  const info = workflowInfo();
  const scope = new CancellationScope();
  const holder = scope
    .run(() => holdAppContainer({ spec: input.spec, owner: { workflowId: info.workflowId, runId: info.runId }, readySignal: 'appReady' }))
    .catch((err: unknown) => {
      if (!(isCancellation(err) && released)) state.failure = describe(err);
    })
    .finally(() => (done = true));
  try {
    await condition(() => released || done);
  } finally {
    // Also when this workflow is cancelled: the holder's container is removed before we return.
    if (!done) {
      scope.cancel();
      await CancellationScope.nonCancellable(() => holder);
    }
  }
  state.phase = 'released';
  return state;
}

export async function containerStepProbe(input: {
  step: Parameters<Acts['runContainerStep']>[0];
  startToCloseTimeout?: string;
}): Promise<ProbeState & { result?: unknown }> {
  const { runContainerStep } = proxyActivities<Acts>({
    startToCloseTimeout: input.startToCloseTimeout ?? '5m',
    heartbeatTimeout: '10s',
    retry: { maximumAttempts: 1 },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  try {
    return { phase: 'done', result: await runContainerStep(input.step) };
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { phase: 'failed', failure: describe(err) };
  }
}
