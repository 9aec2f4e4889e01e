import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { segmentId, workspaceRunsOf } from '../../storage/workspace-layout.js';

// Reads the runs dir as workflow runs, in the layout of src/storage/workspace-layout.ts.

export interface RunTree {
  workflowId: string;
  runId: string | null;
  /** The run's directory (runId set), or the workflow directory's non-run children. */
  paths: string[];
  /** Allocated on disk (st_blocks), what removing the tree frees. */
  bytes: number;
  /** Newest modification time in the tree (epoch ms). */
  newestMtimeMs: number;
}

interface Usage {
  bytes: number;
  newestMtimeMs: number;
}

/** Size and newest mtime of a tree; `tick` is called per entry (the caller heartbeats from it). */
export async function usageOf(p: string, tick: () => void): Promise<Usage> {
  tick();
  let st;
  try {
    st = await lstat(p);
  } catch {
    return { bytes: 0, newestMtimeMs: 0 }; // removed meanwhile
  }
  const own = { bytes: Number(st.blocks) * 512, newestMtimeMs: st.mtimeMs };
  if (!st.isDirectory()) return own;
  const entries = await readdir(p).catch(() => [] as string[]);
  for (const e of entries) {
    const u = await usageOf(path.join(p, e), tick);
    own.bytes += u.bytes;
    own.newestMtimeMs = Math.max(own.newestMtimeMs, u.newestMtimeMs);
  }
  return own;
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

export async function scanRuns(runsDir: string, tick: () => void): Promise<RunTree[]> {
  const runs: RunTree[] = [];
  for (const wfName of await subdirs(runsDir)) {
    const wfDir = path.join(runsDir, wfName);
    const workflowId = segmentId(wfName);
    for (const { runId, paths } of workspaceRunsOf(wfDir, await subdirs(wfDir))) {
      let bytes = 0;
      let newestMtimeMs = 0;
      for (const p of paths) {
        const u = await usageOf(p, tick);
        bytes += u.bytes;
        newestMtimeMs = Math.max(newestMtimeMs, u.newestMtimeMs);
      }
      runs.push({ workflowId, runId, paths, bytes, newestMtimeMs });
    }
  }
  return runs;
}

/**
 * Workspaces of steps running now, from the step registry (registry.ts): a record exists from
 * just after a step's process starts until it has ended, whichever worker runs it.
 */
export async function runningWorkspaces(procDir: string): Promise<string[]> {
  const names = await readdir(procDir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const n of names) {
    if (!n.startsWith('step-') || !n.endsWith('.json')) continue;
    try {
      const rec = JSON.parse(await readFile(path.join(procDir, n), 'utf8')) as { workspace?: string };
      if (rec.workspace) out.push(path.resolve(rec.workspace));
    } catch {
      // removed or half-written meanwhile: its step is ending or starting; the run's status covers it
    }
  }
  return out;
}

/** True when a running step's workspace lies inside one of the tree's paths. */
export function holdsRunningStep(tree: Pick<RunTree, 'paths'>, running: readonly string[]): boolean {
  return running.some((w) => tree.paths.some((p) => w === p || w.startsWith(p + path.sep)));
}
