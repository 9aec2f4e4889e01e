import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  WorkflowIdReusePolicy,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { AnalysisActivities } from '../../shared/analysis/activities.js';
import { analyzerNeedsApp } from '../../shared/analysis/analyzers.js';
import type { TargetStatus } from '../../shared/analysis/breakers.js';
import { durationMs } from '../../shared/analysis/duration.js';
import { analysisPipelineSchema, type AnalysisPipeline } from '../../shared/analysis/input.js';
import { analysisProgressQuery, resetBreakerSignal, resetBreakerUpdate } from '../../shared/analysis/messages.js';
import type { AnalysisPipelineResult, AnalysisPipelineStatus, TargetProgress } from '../../shared/analysis/results.js';
import { rootMessage } from '../../shared/failure-message.js';
import { parseInput } from '../validate-input.js';
import { appAnalysis } from './app-analysis.js';
import { publishBreakerStates } from './breaker-metrics.js';
import { PipelineState } from './pipeline-state.js';

const { recordAnalysisTargets, skipAnalysisTargets } = proxyActivities<AnalysisActivities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '30s' },
});
// Best effort: a few tries, then the result says notified=false.
const { notifyWebhook } = proxyActivities<AnalysisActivities>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 3, initialInterval: '2s' },
});

/**
 * The analysis pipeline (seed 003): preflight, then one appAnalysis child per unique target with
 * a deterministic workflow ID, at most `concurrency` at once, guarded by the analyzer breakers
 * (what a new target runs) and the pipeline breaker (whether a new target starts), and one
 * webhook summary at the end.
 */
export async function analysisPipeline(rawInput: unknown): Promise<AnalysisPipelineResult> {
  const input = parseInput(analysisPipelineSchema, rawInput);
  const state = new PipelineState(input);
  const refresh = () => {
    upsertSearchAttributes({ Stage: [state.stageKeyword()] });
    setCurrentDetails(state.details(Date.now()));
    publishBreakerStates(input.pipelineId, state.breakers());
  };
  const setStage = (stage: string) => {
    state.stage = stage;
    refresh();
  };
  upsertSearchAttributes({ PipelineKind: ['analysisPipeline'], PipelineId: [input.pipelineId] });
  upsertMemo({ effectiveInput: input });
  setHandler(analysisProgressQuery, () => state.progress());
  setHandler(
    resetBreakerUpdate,
    ({ breaker }) => {
      const reset = state.reset(breaker);
      refresh();
      return { reset, breakers: state.breakers() };
    },
    {
      validator: ({ breaker }) => {
        if (breaker !== 'pipeline' && breaker !== 'all' && !state.analyzerBreakers.has(breaker)) {
          throw new Error(
            `breaker must be "pipeline", "all" or a configured analyzer (${[...state.analyzerBreakers.keys()].join(', ')}), not "${String(breaker)}"`,
          );
        }
      },
    },
  );
  setHandler(resetBreakerSignal, ({ breaker }) => {
    state.reset(breaker);
    refresh();
  });
  setStage('preflight');

  await preflight(input, state);
  await recordAnalysisTargets({
    pipelineId: input.pipelineId,
    pipelineRunId: workflowInfo().runId,
    targets: state.targets.map((t, i) => ({
      model: t.model,
      app: t.app,
      workflowId: t.workflowId,
      sourceDir: input.targets[state.sourceIndex[i]!]!.sourceDir,
    })),
  });

  let cancellation: unknown;
  try {
    setStage('running');
    await schedule(input, state, refresh);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    cancellation = err;
  }
  return CancellationScope.nonCancellable(() => conclude(input, state, cancellation, setStage));
}

async function preflight(input: AnalysisPipeline, state: PipelineState): Promise<void> {
  const { preflightAnalysis } = proxyActivities<AnalysisActivities>({
    startToCloseTimeout: input.timeouts.preflight,
    retry: { maximumAttempts: 2, initialInterval: '1s' },
  });
  const analyzers = input.analyzers.map((a) => a.name);
  const needsRuntime = input.targets.some((t) => (t.analyzers ?? analyzers).some(analyzerNeedsApp));
  let problems: string[];
  try {
    const r = await preflightAnalysis({ analyzers, needsRuntime });
    problems = r.ok ? [] : r.problems.length ? r.problems : ['preflight reported not ok without a reason'];
  } catch (err) {
    problems = [`preflight could not run: ${rootMessage(err)}`];
  }
  if (problems.length === 0) return;
  // Fail fast: no target starts, no target row is created (seed 003: tasks created while every service was down).
  const reason = `preflight failed: ${problems.join('; ')}`;
  for (const t of state.targets) Object.assign(t, { status: 'skipped', reason });
  state.stage = 'preflight failed';
  upsertSearchAttributes({ Stage: ['preflight failed'] });
  setCurrentDetails(state.details(Date.now()));
  publishBreakerStates(input.pipelineId, state.breakers(), true);
  if (input.notify) {
    await notifyWebhook({
      title: `Analysis ${input.pipelineId}: preflight failed`,
      text: `Analysis pipeline ${input.pipelineId} did not start: ${reason}`,
    }).catch(() => undefined);
  }
  throw ApplicationFailure.nonRetryable(reason, 'PreflightFailed', { problems });
}

/** Starts children while slots are free and the pipeline breaker is closed; waits for the pipeline breaker reset when asked to. */
async function schedule(input: AnalysisPipeline, state: PipelineState, refresh: () => void): Promise<void> {
  let running = 0;
  const resetWaitMs = durationMs(input.breakers.pipelineResetWait);
  const inFlight: Promise<void>[] = [];
  const queued = () => state.targets.map((t, i) => (t.status === 'queued' ? i : -1)).filter((i) => i >= 0);
  try {
    for (;;) {
      while (running < input.concurrency && state.pipelineBreaker.state === 'closed' && queued().length > 0) {
        const i = queued()[0]!;
        running++;
        const p = runTarget(input, state, i, refresh).finally(() => {
          running--;
          state.version++;
        });
        inFlight.push(p);
      }
      const left = queued();
      if (running === 0 && left.length === 0) return;
      if (running === 0 && state.pipelineBreaker.state === 'open') {
        const reason = state.pipelineBreaker.reason!;
        for (const i of left) Object.assign(state.targets[i]!, { status: 'skipped', reason });
        refresh();
        if (resetWaitMs <= 0) return;
        if (input.notify) {
          await notifyWebhook({
            title: `Analysis ${input.pipelineId}: pipeline breaker open`,
            text: `${reason}. ${left.length} targets wait up to ${input.breakers.pipelineResetWait} for a resetBreaker update.`,
          }).catch(() => undefined);
        }
        const reset = await condition(() => state.pipelineBreaker.state === 'closed', resetWaitMs);
        if (!reset) return;
        for (const i of left) Object.assign(state.targets[i]!, { status: 'queued', reason: undefined });
        refresh();
        continue;
      }
      const seen = state.version;
      await condition(() => state.version !== seen);
    }
  } finally {
    // On cancellation the children are being cancelled too; their ends are still recorded.
    await CancellationScope.nonCancellable(() => Promise.allSettled(inFlight));
  }
}

async function runTarget(input: AnalysisPipeline, state: PipelineState, i: number, refresh: () => void): Promise<void> {
  const t = state.targets[i]!;
  const target = input.targets[state.sourceIndex[i]!]!;
  const { run, skipped } = state.admit(i, Date.now());
  Object.assign(t, { status: 'running', startedAt: Date.now() });
  refresh();
  let handle;
  try {
    handle = await startChild(appAnalysis, {
      workflowId: t.workflowId,
      args: [{ pipelineId: input.pipelineId, target, analyzers: run, skipped, timeouts: input.timeouts }],
      // A second pipeline run (or a target listed by two starts) can never run the target again.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      // Terminating the pipeline must still let each child release its container.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      staticSummary: `analysis ${t.model}/${t.app}`,
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      state.finish(
        i,
        'skipped',
        skipped.map((s) => ({ analyzer: s.name, status: 'skipped', reason: s.reason, findings: 0, bySeverity: {}, durationMs: 0 })),
        Date.now(),
        `already started as ${t.workflowId} (another start of pipeline ${input.pipelineId}): not run twice`,
      );
      refresh();
      return;
    }
    throw err;
  }
  try {
    const r = await handle.result();
    state.finish(i, r.status, r.analyzers, Date.now(), r.reason, r.findings);
  } catch (err) {
    const status: TargetStatus = isCancellation(err) ? 'cancelled' : 'failed';
    const reason = err instanceof ChildWorkflowFailure ? rootMessage(err) : String(err);
    state.finish(i, status, [], Date.now(), reason);
    if (status === 'cancelled') throw err;
  } finally {
    refresh();
  }
}

async function conclude(
  input: AnalysisPipeline,
  state: PipelineState,
  cancellation: unknown,
  setStage: (s: string) => void,
): Promise<AnalysisPipelineResult> {
  const targets = state.allTargets();
  const counts: Record<TargetStatus, number> = { completed: 0, partial: 0, failed: 0, skipped: 0, cancelled: 0 };
  for (const t of targets) {
    if (t.status === 'queued' || t.status === 'running')
      Object.assign(t, { status: 'cancelled', reason: 'pipeline cancelled before it started' });
    counts[t.status as TargetStatus]++;
  }
  const status: AnalysisPipelineStatus = cancellation
    ? 'cancelled'
    : counts.completed === state.targets.length
      ? 'completed'
      : counts.completed + counts.partial > 0
        ? 'completed_with_failures'
        : counts.failed > 0 || state.pipelineBreaker.state === 'open'
          ? 'failed'
          : 'skipped';
  setStage(status);
  publishBreakerStates(input.pipelineId, state.breakers(), true);
  // Skipped rows this run registered get their reason (a duplicate start's rows are never touched).
  const skips = state.targets.filter((t) => t.status === 'skipped' || t.status === 'cancelled').filter((t) => t.startedAt === undefined);
  if (skips.length) {
    await skipAnalysisTargets({
      pipelineId: input.pipelineId,
      pipelineRunId: workflowInfo().runId,
      targets: skips.map((t) => ({ model: t.model, app: t.app, reason: t.reason ?? t.status })),
    });
  }
  const findings = targets.reduce((n, t) => n + t.findings, 0);
  const result: AnalysisPipelineResult = {
    pipelineId: input.pipelineId,
    status,
    counts,
    findings,
    targets,
    breakers: state.breakers(),
    notified: false,
  };
  if (input.notify) result.notified = await notifySummary(input, result);
  if (cancellation) throw cancellation;
  if (status === 'failed') {
    // Every target failed: the workflow fails too, so the Web UI and callers cannot miss it.
    throw ApplicationFailure.nonRetryable(
      `analysis ${input.pipelineId}: all ${state.targets.length} targets failed or were skipped`,
      'AnalysisFailed',
      result,
    );
  }
  return result;
}

async function notifySummary(input: AnalysisPipeline, r: AnalysisPipelineResult): Promise<boolean> {
  const c = r.counts;
  const rows = r.targets.map((t: TargetProgress) => ({
    target: `${t.model}/${t.app}`,
    status: t.status,
    findings: t.findings,
    analyzers: t.analyzers.map((a) => `${a.analyzer}:${a.status}`).join(' '),
    reason: t.reason,
  }));
  try {
    const sent = await notifyWebhook({
      title: `Analysis ${input.pipelineId}: ${r.status}`,
      text: `Analysis ${input.pipelineId} ${r.status}: ${c.completed} completed, ${c.partial} partial, ${c.failed} failed, ${c.skipped} skipped, ${c.cancelled} cancelled; ${r.findings} findings`,
      table: { rows },
    });
    return sent.sent;
  } catch {
    return false;
  }
}
