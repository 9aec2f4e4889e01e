import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';
import { workspaceCleanupInputSchema, type WorkspaceCleanupInput, type WorkspaceCleanupReport } from '../../shared/hygiene/schemas.js';
import { parseInput } from '../validate-input.js';
import { FailureType } from '../../shared/failure-types.js';

// Applies the workspace retention policy (README "Disk hygiene"). Started by the
// shepherd-workspace-cleanup Schedule (src/client/schedules.ts) and by `shepherd workspaces clean`.
// The deletion is one heartbeating activity: it walks and removes trees that can be large, and a
// retry simply plans again from what is left on disk.

const { cleanWorkspaces } = proxyActivities<Activities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '1m',
  retry: { maximumAttempts: 3, initialInterval: '10s', nonRetryableErrorTypes: [FailureType.InvalidInput] },
  summary: 'remove workspaces the retention policy no longer keeps',
});

export async function workspaceCleanup(rawInput: WorkspaceCleanupInput): Promise<WorkspaceCleanupReport> {
  const input = parseInput(workspaceCleanupInputSchema, rawInput);
  return cleanWorkspaces(input);
}
