import { uploadOutputs, type StepOutput } from './output-artifacts.js';
import { Context } from '@temporalio/activity';
import { parseCommandSpec, type CommandSpec } from '../../shared/step/command-spec.js';
import { describeLiveness } from '../../shared/step/liveness.js';
import type { ActivityDeps } from '../deps.js';
import { executeStep, type StepProgress } from './execute-step.js';
import { assertStepSucceeded } from './failure.js';
import { readStepResult } from './result-file.js';
import { collectOutputs, prepareWorkspace, workspacePath } from './workspace.js';
import { waitForDiskFloor } from './disk-floor.js';

// The runCommand activity: one program, one fresh workspace, one process group that cannot
// outlive the attempt (cancellation, deadline, worker shutdown or worker death), a result read
// from $SHEPHERD_RESULT_FILE, and failures that say what happened.

export type { CommandSpec, ResolvedCommandSpec } from '../../shared/step/command-spec.js';
export { commandSpecSchema, parseCommandSpec } from '../../shared/step/command-spec.js';
export {
  executeStep,
  resolveProgram,
  type ExecuteStepOptions,
  type StallInfo,
  type StepOutcome,
  type StepProgress,
} from './execute-step.js';
export { StepLiveness } from './liveness.js';
export { assertStepSucceeded, type StepFailureDetails } from './failure.js';
export { readStepResult, resultFilePath, MAX_RESULT_BYTES } from './result-file.js';
export { collectOutputs, prepareWorkspace, resolveInWorkspace, workspacePath, type WorkspaceKey } from './workspace.js';
export { reapOrphans, type ReapReport } from './registry.js';

export interface CommandResult {
  /** Parsed JSON from $SHEPHERD_RESULT_FILE (null when absent and not required). */
  result: unknown;
  exitCode: 0;
  durationMs: number;
  peakRssBytes: number;
  workspace: string;
  outputs: StepOutput[];
  /** Last lines of stdout, for the Web UI; the full log is stdout.log in the workspace. */
  stdoutTail: string[];
  /** Longest time without output or file growth: the basis of progressTimeout recommendations. */
  longestSilenceMs: number;
}

/** What runCommand heartbeats (the Web UI shows it as the activity's heartbeat details). */
export interface CommandHeartbeat {
  elapsedMs: number;
  rssBytes: number;
  lastOutputLine: string | null;
  /** Since the last output line or workspace file growth. */
  silentMs: number;
  longestSilenceMs: number;
  progressTimeoutMs: number | null;
  /** Why the step has not started yet (the disk floor), while it waits. */
  waiting?: string;
  /** "running 4m", "running 9m, no output for 2m" or "stalled for 5m: ...". */
  state: string;
}

/** A heartbeat before the program runs (workspace not ready, or waiting for the disk floor). */
const NOT_STARTED = { elapsedMs: 0, rssBytes: 0, lastOutputLine: null, silentMs: 0, longestSilenceMs: 0, progressTimeoutMs: null } as const;

/** The heartbeat of a step at the given progress. */
export function commandHeartbeat(p: StepProgress): CommandHeartbeat {
  return {
    elapsedMs: p.elapsedMs,
    rssBytes: p.rssBytes,
    lastOutputLine: p.lastOutputLine,
    silentMs: p.silentMs,
    longestSilenceMs: p.longestSilenceMs,
    progressTimeoutMs: p.progressTimeoutMs,
    state: describeLiveness(p),
  };
}

/** Every second, or a third of the heartbeat timeout when that is shorter. */
export function heartbeatIntervalMs(heartbeatTimeoutMs: number | undefined): number {
  return heartbeatTimeoutMs ? Math.max(50, Math.min(1000, Math.floor(heartbeatTimeoutMs / 3))) : 1000;
}

/**
 * When the step's group must be gone: just before the server times the attempt out, so a retry
 * never runs next to a leftover of this attempt.
 */
export function attemptDeadline(startedAt: number, startToCloseTimeoutMs: number | undefined): number | undefined {
  if (!startToCloseTimeoutMs || startToCloseTimeoutMs <= 0) return undefined;
  return startedAt + startToCloseTimeoutMs - Math.min(1000, Math.floor(startToCloseTimeoutMs / 10));
}

/**
 * Waits, inside the current activity attempt, until the data dir is above SHEPHERD_DISK_FLOOR:
 * polled at the heartbeat cadence, cancelled with the attempt, DiskFloor at its deadline.
 */
export function attemptDiskFloor(
  deps: Pick<ActivityDeps, 'runsDir' | 'diskFloor'>,
  startedAt: number,
  onWaiting: (reason: string) => void,
): Promise<void> {
  const { info, cancellationSignal } = Context.current();
  return waitForDiskFloor({
    dir: deps.runsDir,
    floor: () => deps.diskFloor,
    deadline: attemptDeadline(startedAt, info.startToCloseTimeoutMs),
    signal: cancellationSignal,
    pollMs: heartbeatIntervalMs(info.heartbeatTimeoutMs),
    onWaiting,
  });
}

export function createCommandActivities(deps: ActivityDeps) {
  return {
    /**
     * Runs a program in `<runsDir>/<workflowId>/<activityId>/<attempt>/`. Cancellation (including
     * worker shutdown) stops its process group and is rethrown as a CancelledFailure.
     * Failures: InvalidCommandSpec, CommandNotFound, InputMissing (non-retryable); CommandFailed
     * (retryable unless the exit code is in nonRetryableExitCodes); StepTimedOut (retryable);
     * StepStalled (retryable: no sign of life for
     * its progressTimeout); ResultMissing, ResultInvalid, ResultTooLarge, OutputMissing, OutputOutsideWorkspace
     * (non-retryable: the program exited 0 without keeping its contract).
     */
    async runCommand(input: CommandSpec): Promise<CommandResult> {
      const spec = parseCommandSpec(input);
      const ctx = Context.current();
      const { info } = ctx;
      const startedAt = Date.now();
      const workspace = workspacePath(deps.runsDir, {
        workflowId: info.workflowExecution?.workflowId ?? `activity-${info.activityRunId ?? info.activityId}`,
        runId: info.workflowExecution?.runId,
        activityId: info.activityId,
        attempt: info.attempt,
      });
      const beat = (details: CommandHeartbeat) => ctx.heartbeat(details);
      beat({ ...NOT_STARTED, state: 'starting' });
      await attemptDiskFloor(deps, startedAt, (waiting) =>
        beat({ ...NOT_STARTED, elapsedMs: Date.now() - startedAt, state: `waiting: ${waiting}`, waiting }),
      );
      await prepareWorkspace(workspace, spec);
      deps.logger.info({ command: spec.command, workspace }, 'step started');

      const outcome = await executeStep(spec, {
        workspace,
        signal: ctx.cancellationSignal,
        deadline: attemptDeadline(startedAt, info.startToCloseTimeoutMs),
        procDir: deps.procDir,
        sampleIntervalMs: heartbeatIntervalMs(info.heartbeatTimeoutMs),
        onProgress: (p) => beat(commandHeartbeat(p)),
        logger: deps.logger,
      });
      // The logger's mixin adds the workflow ID, activity and attempt to both lines.
      deps.logger.info(
        {
          command: spec.command,
          exitCode: outcome.exitCode,
          signal: outcome.signal,
          durationMs: outcome.durationMs,
          peakRssBytes: outcome.peakRssBytes,
        },
        'step finished',
      );
      assertStepSucceeded(spec, outcome, info.attempt);
      const result = await readStepResult(outcome.resultFile, spec.resultRequired);
      const collected = await collectOutputs(workspace, spec.outputs);
      // With a store, outputs outlive this machine; PostgreSQL keeps the references.
      const outputs = deps.artifacts ? await uploadOutputs(deps.artifacts, deps.runsDir, workspace, collected) : collected;
      return {
        result,
        exitCode: 0,
        durationMs: outcome.durationMs,
        peakRssBytes: outcome.peakRssBytes,
        workspace,
        outputs,
        stdoutTail: outcome.stdoutTail,
        longestSilenceMs: outcome.longestSilenceMs,
      };
    },
  };
}
