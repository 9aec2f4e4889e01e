import { ApplicationFailure } from '@temporalio/common';
import type { ResolvedCommandSpec } from '../../shared/step/command-spec.js';
import { formatDurationMs } from '../../shared/durations.js';
import type { StepOutcome } from './execute-step.js';
import { formatBytes } from '../../shared/bytes.js';

// Turns a finished step into a failure a person can act on from the Web UI alone: what ran,
// how it ended (code or signal), for how long, with how much memory, and what it said last.

export interface StepFailureDetails {
  command: string[];
  exitCode: number | null;
  signal: string | null;
  /** SIGKILL or exit 137 that Shepherd did not send: the usual signature of the OOM killer. */
  possibleOomKill: boolean;
  /** Rise of the kernel's oom_kill counter during the step (system-wide), when readable. */
  oomKillsDuringStep: number | null;
  timedOut: boolean;
  /** Stopped for showing no sign of life for its progressTimeout (absent: no). */
  stalled?: boolean;
  /** How long it had been silent when it was stopped (stalled steps only). */
  silentMs?: number;
  lastOutputLine?: string | null;
  durationMs: number;
  peakRssBytes: number;
  stderrTail: string[];
  workspace: string;
  /** The activity attempt that ran the step, when the caller knows it. */
  attempt?: number;
}

function describeCommand(argv: string[]): string {
  const s = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** Throws the classified failure for an unsuccessful outcome; returns for exit code 0. */
export function assertStepSucceeded(
  spec: Pick<ResolvedCommandSpec, 'nonRetryableExitCodes'>,
  outcome: StepOutcome,
  attempt?: number,
): void {
  // A stalled step fails even when it exits 0 on SIGTERM (a trainer saving a checkpoint).
  if (outcome.exitCode === 0 && !outcome.timedOut && !outcome.stalled) return;
  if (outcome.stalled) throwStalled(outcome, attempt);
  const possibleOomKill = !outcome.timedOut && (outcome.signal === 'SIGKILL' || outcome.exitCode === 137);
  const details: StepFailureDetails = {
    command: outcome.command,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    possibleOomKill,
    oomKillsDuringStep: outcome.oomKillsDuringStep,
    timedOut: outcome.timedOut,
    stalled: false,
    durationMs: outcome.durationMs,
    peakRssBytes: outcome.peakRssBytes,
    stderrTail: outcome.stderrTail,
    workspace: outcome.workspace,
    ...(attempt === undefined ? {} : { attempt }),
  };
  const how = outcome.timedOut
    ? "was stopped at its deadline (the activity's start-to-close timeout)"
    : outcome.signal
      ? `was killed by ${outcome.signal}`
      : `exited with code ${outcome.exitCode}`;
  const oom = possibleOomKill
    ? outcome.oomKillsDuringStep
      ? ' (out-of-memory kill: the kernel OOM counter rose during the step)'
      : ' (possible out-of-memory kill)'
    : '';
  const tail = outcome.stderrTail.slice(-10);
  const message =
    `command ${describeCommand(outcome.command)} ${how}${oom} after ${(outcome.durationMs / 1000).toFixed(1)} s, ${outcome.peakRssBytes > 0 ? `peak RSS ${formatBytes(outcome.peakRssBytes)}` : 'peak RSS not sampled (ended before the first sample)'}` +
    (tail.length > 0 ? `\nstderr (last ${tail.length} lines):\n${tail.join('\n')}` : '\n(stderr was empty)');
  const nonRetryable = outcome.exitCode !== null && spec.nonRetryableExitCodes.includes(outcome.exitCode);
  throw ApplicationFailure.create({
    message,
    type: outcome.timedOut ? 'StepTimedOut' : 'CommandFailed',
    nonRetryable,
    details: [details],
  });
}

/** StepStalled: retryable, whatever the exit code (the retry policy decides how often). */
function throwStalled(outcome: StepOutcome, attempt: number | undefined): never {
  const stall = outcome.stalled!;
  const what = stall.evidence === 'progress' ? 'no progress record' : 'no output line and no growth of its workspace files';
  const last =
    outcome.lastOutputLine === null ? 'it printed nothing' : `last output line: ${JSON.stringify(outcome.lastOutputLine.slice(0, 300))}`;
  const message =
    `command ${describeCommand(outcome.command)} stalled: ${what} for ${formatDurationMs(stall.silentMs)} ` +
    `(progressTimeout ${formatDurationMs(stall.progressTimeoutMs)}); stopped after ${(outcome.durationMs / 1000).toFixed(1)} s; ${last}`;
  const details: StepFailureDetails = {
    command: outcome.command,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    possibleOomKill: false,
    oomKillsDuringStep: outcome.oomKillsDuringStep,
    timedOut: false,
    stalled: true,
    silentMs: stall.silentMs,
    lastOutputLine: outcome.lastOutputLine,
    durationMs: outcome.durationMs,
    peakRssBytes: outcome.peakRssBytes,
    stderrTail: outcome.stderrTail,
    workspace: outcome.workspace,
    ...(attempt === undefined ? {} : { attempt }),
  };
  throw ApplicationFailure.create({ message, type: 'StepStalled', nonRetryable: false, details: [details] });
}
