import path from 'node:path';

// Where step workspaces live on disk: written by the step machinery (activities/step/workspace.ts)
// and read by the workspace cleanup (activities/hygiene) and `shepherd <pipeline> logs` (which
// must not import activities).
//
// `<runsDir>/<workflowId>/<runId>/<activityId>/<attempt>/`. A tree written without a run segment
// (`<workflowId>/<activityId>/<attempt>`, by a step that knows no run, or before workspaces
// carried the run) counts as one run with runId null. Run IDs are UUIDs; activity IDs never are
// (Temporal numbers them "1", "2"..., simulation names them replicate-<n>), which is how the
// two are told apart: a run directory's children may well be numbered too.

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** One path segment per id, injective and unable to climb out ("/" and "." are encoded). */
export function pathSegment(id: string): string {
  const s = encodeURIComponent(id);
  return s === '.' || s === '..' ? s.replaceAll('.', '%2E') : s;
}

/** The id a segment was written for (a name not written by pathSegment is returned as it is). */
export function segmentId(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

/** `<runsDir>/<workflowId>`: every run of one workflow ID. */
export function workflowWorkspaceDir(runsDir: string, workflowId: string): string {
  return path.join(path.resolve(runsDir), pathSegment(workflowId));
}

export interface WorkspaceRun {
  runId: string | null;
  /** The run's directory (runId set), or the workflow directory's activity directories (runId null). */
  paths: string[];
}

/** The runs in a workflow directory, from the names of its subdirectories (no I/O). */
export function workspaceRunsOf(workflowDir: string, children: readonly string[]): WorkspaceRun[] {
  const runs: WorkspaceRun[] = children.filter((c) => RUN_ID.test(c)).map((c) => ({ runId: c, paths: [path.join(workflowDir, c)] }));
  const legacy = children.filter((c) => !RUN_ID.test(c)).map((c) => path.join(workflowDir, c));
  if (legacy.length) runs.push({ runId: null, paths: legacy });
  return runs;
}
