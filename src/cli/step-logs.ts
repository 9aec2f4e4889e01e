import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathSegment, segmentId, workflowWorkspaceDir, workspaceRunsOf, type WorkspaceRun } from '../storage/workspace-layout.js';

export interface StepTail {
  /** The workflow run whose workspace this is (null for trees written without a run segment). */
  runId: string | null;
  step: string;
  attempt: number;
  stdout: string[];
  stderr: string[];
}

const dirs = (p: string) => (existsSync(p) ? readdirSync(p).filter((s) => statSync(path.join(p, s)).isDirectory()) : []);
const newestMtime = (run: WorkspaceRun) => Math.max(...run.paths.map((p) => statSync(p).mtimeMs));
/** A run's activity directories: the children of its run directory, or the legacy ones themselves. */
const activityDirs = (run: WorkspaceRun) => (run.runId ? dirs(run.paths[0]!).map((s) => path.join(run.paths[0]!, s)) : run.paths);

/** The workflow's runs with workspaces on this machine, newest first. */
export function workspaceRuns(runsDir: string, workflowId: string): WorkspaceRun[] {
  const root = workflowWorkspaceDir(runsDir, workflowId);
  if (!existsSync(root)) return [];
  return workspaceRunsOf(root, dirs(root))
    .map((run) => ({ run, mtime: newestMtime(run) }))
    .sort((a, b) => b.mtime - a.mtime)
    .map(({ run }) => run);
}

/** The last `n` lines of each step's latest attempt, in the newest run or in the run named. */
export function stepTails(runsDir: string, workflowId: string, opts: { step?: string; runId?: string; lines: number }): StepTail[] {
  const runs = workspaceRuns(runsDir, workflowId);
  const run = opts.runId ? runs.find((r) => r.runId === opts.runId) : runs[0];
  if (!run) return [];
  const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).slice(-opts.lines) : []);
  const steps = activityDirs(run).filter((d) => !opts.step || path.basename(d) === pathSegment(opts.step));
  return steps.flatMap((dir) => {
    const attempt = dirs(dir)
      .filter((s) => /^\d+$/.test(s))
      .map(Number)
      .sort((x, y) => x - y)
      .at(-1);
    if (attempt === undefined) return [];
    const at = path.join(dir, String(attempt));
    const step = segmentId(path.basename(dir));
    return [{ runId: run.runId, step, attempt, stdout: tail(path.join(at, 'stdout.log')), stderr: tail(path.join(at, 'stderr.log')) }];
  });
}
