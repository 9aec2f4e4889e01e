import { mkdir } from 'node:fs/promises';
import type { CommandSpec } from '../../shared/step/command-spec.js';
import type { Logger } from '../../config/logger.js';
import { executeStep, type StepOutcome } from '../step/execute-step.js';
import { assertStepSucceeded } from '../step/failure.js';

// What every analyzer module gets: its attempt's workspace, the activity's cancellation and
// deadline, and a heartbeat. Tools run through the same step machinery as runCommand (own process
// group, stopped on cancel/deadline/worker shutdown, recorded for the start-up reaper).

export interface AnalyzerEnv {
  analyzer: string;
  /** Fresh per attempt: `<runsDir>/<workflowId>/<activityId>/<attempt>`. */
  workspace: string;
  signal: AbortSignal;
  /** Epoch ms by which every tool process must be gone. */
  deadline?: number;
  procDir?: string;
  sampleIntervalMs: number;
  heartbeat: (details: Record<string, unknown>) => void;
  logger?: Logger;
  attempt: number;
  /** The analyzer's progressTimeout: applied to every tool it runs. */
  progressTimeout?: string | number;
}

/**
 * Runs one tool as a step in `cwd` (a directory inside the workspace). Exit codes in okExitCodes
 * are the tool's "ran fine" answers (ESLint exits 1 when it found problems); any other end is
 * the classified CommandFailed / StepTimedOut / StepStalled failure runCommand would raise.
 */
export async function runTool(
  env: AnalyzerEnv,
  phase: string,
  spec: CommandSpec,
  opts: { cwd: string; okExitCodes?: number[] },
): Promise<StepOutcome> {
  await mkdir(opts.cwd, { recursive: true });
  env.heartbeat({ analyzer: env.analyzer, phase, elapsedMs: 0 });
  const outcome = await executeStep(env.progressTimeout === undefined ? spec : { ...spec, progressTimeout: env.progressTimeout }, {
    workspace: opts.cwd,
    signal: env.signal,
    deadline: env.deadline,
    procDir: env.procDir,
    sampleIntervalMs: env.sampleIntervalMs,
    logger: env.logger,
    onProgress: (p) =>
      env.heartbeat({ analyzer: env.analyzer, phase, elapsedMs: p.elapsedMs, rssBytes: p.rssBytes, lastOutputLine: p.lastOutputLine }),
  });
  const ok = opts.okExitCodes ?? [0];
  // A stalled tool fails even when it answers the stop with an "ok" exit code.
  if (outcome.timedOut || outcome.stalled || outcome.exitCode === null || !ok.includes(outcome.exitCode)) {
    assertStepSucceeded({ nonRetryableExitCodes: [] }, outcome, env.attempt);
  }
  return outcome;
}
