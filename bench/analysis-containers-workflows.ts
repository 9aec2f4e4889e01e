import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { createContainerActivities } from '../src/activities/containers/index.js';
import type { AppAddress, AppContainerSpecInput } from '../src/shared/containers.js';

// Bench workflow: holdAppContainer until its ready signal, then release it and wait for removal.
// Returns how long after this workflow's first task the address arrived (workflow clock: the
// time of the activation that delivered the signal).

const { holdAppContainer } = proxyActivities<ReturnType<typeof createContainerActivities>>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '10s',
  retry: { maximumAttempts: 1 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

export async function benchHoldToReady(input: {
  spec: AppContainerSpecInput;
  workflowId: string;
  runId: string;
}): Promise<{ readyAfterMs: number }> {
  const t0 = Date.now();
  let readyAt: number | undefined;
  setHandler(defineSignal<[AppAddress]>('benchReady'), () => void (readyAt = Date.now()));
  const scope = new CancellationScope();
  let failure: unknown;
  let done = false;
  const holder = scope
    .run(() =>
      holdAppContainer({ spec: input.spec, owner: { workflowId: input.workflowId, runId: input.runId }, readySignal: 'benchReady' }),
    )
    .catch((err: unknown) => void (failure = isCancellation(err) ? undefined : err))
    .finally(() => (done = true));
  await condition(() => readyAt !== undefined || done);
  if (!done) {
    scope.cancel();
    await holder;
  }
  if (readyAt === undefined) throw failure ?? new Error('holder ended without signalling');
  return { readyAfterMs: readyAt - t0 };
}
