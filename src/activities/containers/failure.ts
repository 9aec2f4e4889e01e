import { ApplicationFailure } from '@temporalio/common';
import type { StepFailureDetails } from '../step/failure.js';
import { formatBytes } from '../../shared/bytes.js';

// Failures of container steps, classified like runCommand's (CommandFailed / StepTimedOut with
// StepFailureDetails) plus what only the runtime knows: its OOMKilled state and the container.

export interface ContainerFailureDetails extends StepFailureDetails {
  image: string;
  containerId: string;
  /**
   * Killed for its memory limit: the runtime's State.OOMKilled, or (podman 4.3 with runc on
   * cgroup v1 never sets it) exit 137 under a memory limit while the kernel's oom_kill counter rose.
   */
  oomKilled: boolean;
  /** State.OOMKilled as the runtime reported it. */
  runtimeOomKilled: boolean;
  memoryLimitBytes: number | null;
  logFiles: { stdout: string; stderr: string };
}

export interface ContainerEnd {
  image: string;
  cmd: string[];
  containerId: string;
  exitCode: number;
  /** State.OOMKilled as the runtime reported it. */
  oomKilled: boolean;
  /** Rise of the kernel's oom_kill counter (/proc/vmstat) while the container ran, when readable. */
  oomKillsDuringStep: number | null;
  timedOut: boolean;
  durationMs: number;
  logTail: string[];
  workspace: string;
  memoryLimitBytes: number | null;
  logFiles: { stdout: string; stderr: string };
  attempt: number;
  nonRetryableExitCodes?: number[];
}

type EndFacts = Pick<ContainerEnd, 'exitCode' | 'oomKilled' | 'oomKillsDuringStep' | 'timedOut' | 'memoryLimitBytes'>;

/** Our verdict: the runtime says OOMKilled, or SIGKILL under a memory limit while the kernel OOM-killed. */
export function wasOomKilled(end: EndFacts): boolean {
  return end.oomKilled || (end.exitCode === 137 && end.memoryLimitBytes !== null && (end.oomKillsDuringStep ?? 0) > 0);
}

export function describeEnd(end: EndFacts): string {
  if (end.timedOut) return "was stopped at its deadline (the step's timeout or the activity's start-to-close timeout)";
  const limit = end.memoryLimitBytes ? ` at the ${formatBytes(end.memoryLimitBytes)} limit` : '';
  const oom = end.oomKilled
    ? ` (out-of-memory kill: the runtime reports OOMKilled${limit})`
    : wasOomKilled(end)
      ? ` (out-of-memory kill${limit}: SIGKILL while the kernel's OOM-kill counter rose; the runtime did not flag it)`
      : end.exitCode === 137
        ? ' (killed by SIGKILL: possible out-of-memory kill)'
        : '';
  return `exited with code ${end.exitCode}${oom}`;
}

export function tailText(lines: string[], n = 10): string {
  const tail = lines.slice(-n);
  return tail.length > 0 ? `\noutput (last ${tail.length} lines):\n${tail.join('\n')}` : '\n(no output)';
}

/** Throws the classified failure unless the container exited 0 in time. */
export function assertContainerSucceeded(end: ContainerEnd): void {
  if (end.exitCode === 0 && !end.timedOut) return;
  const oomKilled = !end.timedOut && wasOomKilled(end);
  const possibleOomKill = !end.timedOut && (oomKilled || end.exitCode === 137);
  const details: ContainerFailureDetails = {
    command: [end.image, ...end.cmd],
    exitCode: end.exitCode,
    signal: null,
    possibleOomKill,
    oomKillsDuringStep: end.oomKillsDuringStep,
    timedOut: end.timedOut,
    durationMs: end.durationMs,
    peakRssBytes: 0,
    stderrTail: end.logTail,
    workspace: end.workspace,
    attempt: end.attempt,
    image: end.image,
    containerId: end.containerId,
    oomKilled,
    runtimeOomKilled: end.oomKilled,
    memoryLimitBytes: end.memoryLimitBytes,
    logFiles: end.logFiles,
  };
  const message = `container ${end.image} ${JSON.stringify(end.cmd)} ${describeEnd(end)} after ${(end.durationMs / 1000).toFixed(1)} s${tailText(end.logTail)}`;
  throw ApplicationFailure.create({
    message,
    type: end.timedOut ? 'StepTimedOut' : 'CommandFailed',
    nonRetryable: (end.nonRetryableExitCodes ?? []).includes(end.exitCode),
    details: [details],
  });
}
