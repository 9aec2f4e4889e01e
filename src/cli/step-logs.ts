import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface StepTail {
  /** The workflow run whose workspace this is (null for trees written without a run segment). */
  runId: string | null;
  step: string;
  attempt: number;
  stdout: string[];
  stderr: string[];
}

const dirs = (p: string) => (existsSync(p) ? readdirSync(p).filter((s) => statSync(path.join(p, s)).isDirectory()) : []);
const attemptsIn = (p: string) =>
  dirs(p)
    .filter((s) => /^\d+$/.test(s))
    .map(Number)
    .sort((x, y) => x - y);
/** An activity directory holds numbered attempt directories; a run directory holds activity directories. */
const isActivityDir = (p: string) => attemptsIn(p).length > 0;

/**
 * The workflow's runs, newest first: workspaces are `<runsDir>/<workflowId>/<runId>/<step>/<attempt>`
 * (trees written before runs had their own segment: `<runsDir>/<workflowId>/<step>/<attempt>`).
 */
export function workspaceRuns(runsDir: string, workflowId: string): { runId: string | null; dir: string }[] {
  const root = path.join(path.resolve(runsDir), encodeURIComponent(workflowId));
  if (path.relative(path.resolve(runsDir), root).startsWith('..') || !existsSync(root)) return [];
  const children = dirs(root);
  const legacy = children.some((c) => isActivityDir(path.join(root, c)));
  if (legacy) return [{ runId: null, dir: root }];
  return children
    .map((c) => ({ runId: decodeURIComponent(c), dir: path.join(root, c), mtime: statSync(path.join(root, c)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime)
    .map(({ runId, dir }) => ({ runId, dir }));
}

/** The last `n` lines of each step's latest attempt, in the newest run or in the run named. */
export function stepTails(runsDir: string, workflowId: string, opts: { step?: string; runId?: string; lines: number }): StepTail[] {
  const runs = workspaceRuns(runsDir, workflowId);
  const run = opts.runId ? runs.find((r) => r.runId === opts.runId) : runs[0];
  if (!run) return [];
  const tail = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).slice(-opts.lines) : []);
  const steps = opts.step ? [encodeURIComponent(opts.step)] : dirs(run.dir).filter((s) => isActivityDir(path.join(run.dir, s)));
  return steps.flatMap((s) => {
    const attempt = attemptsIn(path.join(run.dir, s)).at(-1);
    if (attempt === undefined) return [];
    const at = path.join(run.dir, s, String(attempt));
    return [
      {
        runId: run.runId,
        step: decodeURIComponent(s),
        attempt,
        stdout: tail(path.join(at, 'stdout.log')),
        stderr: tail(path.join(at, 'stderr.log')),
      },
    ];
  });
}
