import { execa } from 'execa';
import type { WorkflowHandle } from '@temporalio/client';
import { inject } from 'vitest';
import { ensureTemporalCli } from '../../scripts/lib/temporal-cli.js';

// Starting workflows the way a user of the `temporal` CLI does (its own payload encoding, no
// Shepherd client in between), and judging how they end.

export interface CliStart {
  type: string;
  taskQueue: string;
  workflowId: string;
  /** Input and other flags: ['--input-file', f], ['--input', json, '--input-meta', ...]. */
  args?: string[];
  /** Default true: a refused start throws. */
  reject?: boolean;
}

/** `temporal workflow start` against the suite's server. */
export async function startWithTemporalCli(s: CliStart) {
  const temporal = await ensureTemporalCli();
  return execa(
    temporal,
    [
      'workflow',
      'start',
      '--address',
      inject('temporalAddress'),
      '--type',
      s.type,
      '--task-queue',
      s.taskQueue,
      '--workflow-id',
      s.workflowId,
      ...(s.args ?? []),
    ],
    { reject: s.reject ?? true },
  );
}

/**
 * 'completed', the error the result rejected with, or 'still running' after `ms`: a workflow
 * looping on workflow-task failures never ends by itself, so the caller's checks fail instead.
 */
export function outcomeWithin(handle: WorkflowHandle, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    handle.result().then(
      () => 'completed',
      (e: unknown) => e,
    ),
    new Promise((r) => (timer = setTimeout(() => r('still running'), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** The messages of the workflow-task failures in the workflow's history (each cut to `max` characters). */
export async function workflowTaskFailures(handle: WorkflowHandle, max?: number): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events
    .filter((e) => e.workflowTaskFailedEventAttributes)
    .map((e) => {
      const m = e.workflowTaskFailedEventAttributes?.failure?.message ?? '';
      return max === undefined ? m : m.slice(0, max);
    });
}
