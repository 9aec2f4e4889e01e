import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AppAddress } from '../../shared/containers.js';
import type { AnalysisActivities } from '../../shared/analysis/activities.js';
import { analyzerNeedsApp, type AnalyzerOutcome } from '../../shared/analysis/analyzers.js';
import { targetStatusOf } from '../../shared/analysis/breakers.js';
import { durationMs } from '../../shared/analysis/duration.js';
import { appAnalysisInputSchema, type AnalyzerConfig, type AppAnalysis } from '../../shared/analysis/input.js';
import { APP_READY_SIGNAL, appAnalysisProgressQuery, appReadySignal } from '../../shared/analysis/messages.js';
import type { AppAnalysisResult } from '../../shared/analysis/results.js';
import { rootMessage } from '../../shared/failure-message.js';
import { parseInput } from '../validate-input.js';

const { claimAnalysisTarget, finishAnalysisTarget } = proxyActivities<AnalysisActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s' },
});

/** How often an app analyzer is re-run because the app container was replaced under it (holder retried on another worker). */
const MAX_READDRESS = 2;

const skippedOutcome = (analyzer: AnalyzerOutcome['analyzer'], reason: string): AnalyzerOutcome => ({
  analyzer,
  status: 'skipped',
  reason,
  findings: 0,
  bySeverity: {},
  durationMs: 0,
});
const failedOutcome = (analyzer: AnalyzerOutcome['analyzer'], reason: string, durationMs = 0): AnalyzerOutcome => ({
  analyzer,
  status: 'failed',
  reason,
  findings: 0,
  bySeverity: {},
  durationMs,
});
const appFailedOutcome = (analyzer: AnalyzerOutcome['analyzer'], reason: string): AnalyzerOutcome => ({
  ...failedOutcome(analyzer, reason),
  cause: 'app',
});

/**
 * One target: build or reuse the app image, hold the app container while the analyzers that need
 * it run, run the others beside them, then (non-cancellable) release the container only once
 * every analyzer has finished. Each analyzer ends completed, failed or skipped, with a reason.
 */
export async function appAnalysis(rawInput: unknown): Promise<AppAnalysisResult> {
  const input = parseInput(appAnalysisInputSchema, rawInput);
  const { pipelineId, target } = input;
  const { workflowId, runId } = workflowInfo();
  const label = `${target.model}/${target.app}`;
  const state = { stage: 'claiming', address: undefined as AppAddress | undefined, leases: 0, analyzers: [] as AnalyzerOutcome[] };
  const setStage = (stage: string) => {
    state.stage = stage;
    upsertSearchAttributes({ Stage: [stage] });
    setCurrentDetails(
      `**${label}** (${pipelineId}): ${stage}\n` +
        state.analyzers.map((a) => `- ${a.analyzer}: ${a.status}${a.reason ? ` (${a.reason})` : ''}`).join('\n'),
    );
  };
  upsertSearchAttributes({ PipelineKind: ['appAnalysis'], PipelineId: [pipelineId], Target: [label] });
  setHandler(appAnalysisProgressQuery, () => ({ ...state }));
  setHandler(appReadySignal, (address) => {
    state.address = address;
  });
  setStage('claiming');

  // The database half of "one execution per target": the workflow ID already rejects a second
  // run, the unique row makes it impossible even for a run started outside this pipeline.
  const claim = await claimAnalysisTarget({
    pipelineId,
    model: target.model,
    app: target.app,
    workflowId,
    runId,
    sourceDir: target.sourceDir,
  });
  if (!claim.claimed) {
    const reason = `already analysed by run ${claim.ownerRunId ?? 'unknown'} of ${workflowId}`;
    setStage('skipped');
    return {
      pipelineId,
      model: target.model,
      app: target.app,
      status: 'skipped',
      reason,
      analyzers: input.analyzers.map((a) => skippedOutcome(a.name, reason)),
      findings: 0,
    };
  }

  const outcomes = new Map<string, AnalyzerOutcome>(input.skipped.map((s) => [s.name, skippedOutcome(s.name, s.reason)]));
  const publish = () => {
    state.analyzers = [...outcomes.values()];
  };
  publish();
  let container: AppAnalysisResult['container'];
  try {
    container = await analyse(input, state, outcomes, publish, setStage);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(() => finish(input, runId, outcomes, 'cancelled', 'cancelled'));
    throw err;
  }
  const analyzers = [...outcomes.values()];
  const status = targetStatusOf(analyzers);
  const reason =
    status === 'completed'
      ? undefined
      : analyzers
          .filter((a) => a.status !== 'completed')
          .map((a) => `${a.analyzer}: ${a.reason ?? a.status}`)
          .join('; ');
  await finish(input, runId, outcomes, status, reason);
  setStage(status);
  return { pipelineId, model: target.model, app: target.app, status, reason, analyzers, findings: sumFindings(analyzers), container };
}

function sumFindings(outcomes: AnalyzerOutcome[]): number {
  return outcomes.reduce((n, o) => n + o.findings, 0);
}

async function finish(
  input: AppAnalysis,
  runId: string,
  outcomes: Map<string, AnalyzerOutcome>,
  status: Parameters<AnalysisActivities['finishAnalysisTarget']>[0]['status'],
  reason?: string,
) {
  const analyzers = [...outcomes.values()];
  await finishAnalysisTarget({
    pipelineId: input.pipelineId,
    model: input.target.model,
    app: input.target.app,
    runId,
    status,
    reason,
    analyzers,
    findings: sumFindings(analyzers),
  });
}

type State = { stage: string; address?: AppAddress; leases: number };

async function analyse(
  input: AppAnalysis,
  state: State,
  outcomes: Map<string, AnalyzerOutcome>,
  publish: () => void,
  setStage: (s: string) => void,
): Promise<AppAnalysisResult['container']> {
  const { target } = input;
  const { workflowId, runId } = workflowInfo();
  const appAnalyzers = input.analyzers.filter((a) => analyzerNeedsApp(a.name));
  const sourceAnalyzers = input.analyzers.filter((a) => !analyzerNeedsApp(a.name));

  // Static and ai-review read the source: they start at once, beside the image build and container.
  const sourceRuns = sourceAnalyzers.map((a) => runOne(input, a, undefined, outcomes, publish));
  if (appAnalyzers.length === 0) {
    setStage('analysing');
    await Promise.all(sourceRuns);
    return undefined;
  }

  const { ensureImage } = proxyActivities<AnalysisActivities>({
    startToCloseTimeout: input.timeouts.ensureImage,
    heartbeatTimeout: '2m',
    retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: ['InvalidInput', 'ImageBuildFailed'] },
    summary: `image for ${target.model}/${target.app}`,
  });
  let holderScope: CancellationScope | undefined;
  let holder: Promise<void> | undefined;
  let holderError: unknown;
  let heldFrom = 0;
  let image = target.image;
  // App analyzers run in their own scope so a container that dies under them cancels them at once.
  const appScope = new CancellationScope();
  try {
    setStage('building image');
    let appProblem: string | undefined;
    if (!image) {
      try {
        image = (await ensureImage({ context: target.buildContext!, ...(target.base ? { base: target.base } : {}) })).image;
      } catch (err) {
        if (isCancellation(err)) throw err;
        appProblem = `app image could not be built: ${rootMessage(err)}`;
      }
    }
    if (image) {
      const spec = {
        image,
        port: target.port,
        healthPath: target.healthPath,
        healthTimeout: target.healthTimeout,
        ...(target.cmd ? { cmd: target.cmd } : {}),
        ...(target.env ? { env: target.env } : {}),
        ...(target.limits ? { limits: target.limits } : {}),
      };
      const { holdAppContainer: hold } = proxyActivities<AnalysisActivities>({
        startToCloseTimeout: input.timeouts.hold,
        heartbeatTimeout: '20s',
        // A container that died or never got healthy is the answer, not a glitch; a worker that
        // died (heartbeat timeout) is retried, and the new container signals its new address.
        retry: {
          maximumAttempts: 3,
          initialInterval: '1s',
          nonRetryableErrorTypes: ['InvalidInput', 'AppUnhealthy', 'AppContainerExited'],
        },
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary: `app container ${target.model}/${target.app}`,
      });
      setStage('starting app');
      heldFrom = Date.now();
      // The holder lives in a scope the workflow's own cancellation cannot reach: only the cleanup
      // below cancels it, after every analyzer has finished (seed: containers stopped too early).
      holder = CancellationScope.nonCancellable(() => {
        holderScope = new CancellationScope();
        return holderScope.run(() => hold({ spec, owner: { workflowId, runId }, readySignal: APP_READY_SIGNAL }));
      });
      holder.then(
        () => {
          holderError ??= new Error('app container holder ended before it was released');
          appScope.cancel();
        },
        (err) => {
          holderError = err;
          appScope.cancel();
        },
      );
      const readyWithin = durationMs(target.healthTimeout) + durationMs(input.timeouts.readyGrace);
      await condition(() => state.address !== undefined || holderError !== undefined, readyWithin);
      if (!state.address) {
        appProblem = holderError
          ? `app container not ready: ${rootMessage(holderError)}`
          : `app container sent no ready signal within ${readyWithin} ms`;
      }
    }
    if (appProblem) {
      // Unreachable is failed with the reason, never completed (seed: "completed" with nothing scanned).
      for (const a of appAnalyzers) outcomes.set(a.name, appFailedOutcome(a.name, appProblem));
      publish();
      setStage('analysing source');
      await Promise.all(sourceRuns);
      return undefined;
    }
    setStage('analysing');
    await Promise.all([
      ...sourceRuns,
      ...appAnalyzers.map((a) =>
        appScope
          .run(async () => {
            // One lease per app analyzer in flight: the container's reference count.
            state.leases++;
            try {
              await runAppAnalyzer(input, a, state, outcomes, publish, () => holderError);
            } finally {
              state.leases--;
            }
          })
          .catch((err) => {
            // The app scope was cancelled because the container failed: the analyzer failed with that reason.
            if (!holderError || !isCancellation(err)) throw err;
            outcomes.set(a.name, appFailedOutcome(a.name, `app container failed during analysis: ${rootMessage(holderError)}`));
            publish();
          }),
      ),
    ]);
    return { image: image!, heldMs: Date.now() - heldFrom };
  } finally {
    await CancellationScope.nonCancellable(async () => {
      // Every analyzer (including ones being cancelled) must be done before the container goes.
      await condition(() => state.leases === 0);
      await Promise.allSettled(sourceRuns);
      if (holderScope) {
        setStage('stopping app');
        holderScope.cancel();
        await holder!.catch(() => undefined);
      }
    });
  }
}

function analyzerProxy(input: AppAnalysis, a: AnalyzerConfig) {
  return proxyActivities<AnalysisActivities>({
    startToCloseTimeout: a.timeout,
    heartbeatTimeout: a.heartbeatTimeout,
    retry: { ...a.retry, nonRetryableErrorTypes: ['InvalidInput'] },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary: `${a.name} ${input.target.model}/${input.target.app}`,
  }).runAnalyzer;
}

function analyzerInput(input: AppAnalysis, a: AnalyzerConfig, address?: AppAddress) {
  return {
    pipelineId: input.pipelineId,
    target: { model: input.target.model, app: input.target.app, sourceDir: input.target.sourceDir },
    analyzer: a.name,
    ...(address ? { address } : {}),
    ...(a.config ? { config: a.config } : {}),
    ...(a.progressTimeout !== undefined ? { progressTimeout: a.progressTimeout } : {}),
    runId: workflowInfo().runId,
  };
}

async function runOne(
  input: AppAnalysis,
  a: AnalyzerConfig,
  address: AppAddress | undefined,
  outcomes: Map<string, AnalyzerOutcome>,
  publish: () => void,
): Promise<void> {
  const startedAt = Date.now();
  try {
    outcomes.set(a.name, await analyzerProxy(input, a)(analyzerInput(input, a, address)));
  } catch (err) {
    if (isCancellation(err)) throw err;
    outcomes.set(a.name, failedOutcome(a.name, rootMessage(err), Date.now() - startedAt));
  }
  publish();
}

/** An app analyzer; re-run against the new address when the container was replaced while it ran. */
async function runAppAnalyzer(
  input: AppAnalysis,
  a: AnalyzerConfig,
  state: State,
  outcomes: Map<string, AnalyzerOutcome>,
  publish: () => void,
  holderError: () => unknown,
): Promise<void> {
  for (let round = 0; ; round++) {
    const address = state.address!;
    await runOne(input, a, address, outcomes, publish);
    const replaced = state.address !== undefined && state.address.containerId !== address.containerId;
    if (outcomes.get(a.name)?.status !== 'failed' || !replaced || holderError() || round >= MAX_READDRESS) return;
  }
}
