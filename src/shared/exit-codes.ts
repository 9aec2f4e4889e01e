import type { Outcome } from './outcome.js';

// The shepherd CLI's exit codes: the same for every pipeline and every command.
export const EXIT = {
  /** Everything succeeded (or the command did what it was asked). */
  ok: 0,
  /** An unexpected error in the CLI itself. */
  internal: 1,
  /** Bad input: invalid file, field or option; nothing was started. */
  badInput: 2,
  /** The pipeline failed (every item failed, or it could not run). */
  failed: 3,
  /** The pipeline completed but some items failed. */
  partlyFailed: 4,
  /** The pipeline was cancelled or terminated (or timed out). */
  cancelled: 5,
  /** No such workflow (batch, job, queue) or result rows. */
  notFound: 6,
  /** The Temporal server (or database) could not be reached. */
  unreachable: 7,
  /** Still running (status of an open workflow with --exit-status). */
  running: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeForOutcome(outcome: Outcome | 'running'): ExitCode {
  switch (outcome) {
    case 'completed':
      return EXIT.ok;
    case 'completed_with_failures':
      return EXIT.partlyFailed;
    case 'failed':
      return EXIT.failed;
    case 'cancelled':
      return EXIT.cancelled;
    default:
      return EXIT.running;
  }
}

/** A closed workflow's outcome from Temporal's status and its Stage attribute. */
export function outcomeOfWorkflow(status: string, stage: string | undefined): Outcome | 'running' {
  if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW') return 'running';
  if (status === 'CANCELLED' || status === 'TERMINATED' || status === 'TIMED_OUT') return 'cancelled';
  if (status === 'FAILED') return 'failed';
  return stage === 'completed_with_failures' ? 'completed_with_failures' : stage === 'failed' ? 'failed' : 'completed';
}
