import type { Client } from '@temporalio/client';
import {
  WORKSPACE_CLEANUP_WORKFLOW_TYPE,
  workspaceCleanupInputSchema,
  workspaceCleanupWorkflowId,
  type WorkspaceCleanupInput,
  type WorkspaceCleanupReport,
} from '../shared/hygiene/schemas.js';
import { describeIssues } from '../shared/schemas.js';
import { InvalidInputError } from './errors.js';
import { toShepherdError } from './handle.js';

/**
 * Runs a workspace cleanup now (the same workflow the Schedule starts) and returns its report.
 * A cleanup that fails rejects with PipelineFailedError.
 */
export async function cleanWorkspacesNow(
  client: Client,
  input: WorkspaceCleanupInput,
  opts: { taskQueue: string },
): Promise<WorkspaceCleanupReport> {
  const parsed = workspaceCleanupInputSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(`invalid workspace cleanup: ${describeIssues(parsed.error)}`);
  const workflowId = workspaceCleanupWorkflowId(
    `${new Date().toISOString().replace(/[:.]/g, '-')}-${Math.random().toString(36).slice(2, 6)}`,
  );
  try {
    return await client.workflow.execute<(i: WorkspaceCleanupInput) => Promise<WorkspaceCleanupReport>>(WORKSPACE_CLEANUP_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: opts.taskQueue,
      args: [parsed.data],
      workflowExecutionTimeout: '2h',
    });
  } catch (err) {
    throw toShepherdError(err, workflowId);
  }
}
