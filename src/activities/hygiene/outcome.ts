import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { RunClass } from '../../shared/hygiene/schemas.js';
import type { RunTree } from './scan.js';

// How a run ended is Temporal's to say: the workflow run's status, whatever the pipeline, with
// no marker for every step kind to remember to write. Once a closed run is seen, its outcome is
// cached in the run's directory (OUTCOME_FILE), so later cleanups need no call and still know it
// after the server's history retention has dropped the run. A run Temporal no longer knows and
// that has no cache is "unknown" and kept as long as a failure; a lookup that fails otherwise
// (server unreachable) keeps the run: nothing is removed on a guess.

export const OUTCOME_FILE = '.shepherd-outcome.json';

export interface RunOutcome {
  class: RunClass | 'unreachable';
  /** COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW, RUNNING, UNKNOWN. */
  status: string;
  /** When it ended (epoch ms): the close time, else the tree's newest modification. */
  endedAtMs: number;
}

const SUCCEEDED = new Set(['COMPLETED', 'CONTINUED_AS_NEW']);

export function classOf(status: string): RunClass {
  if (status === 'RUNNING') return 'running';
  return SUCCEEDED.has(status) ? 'succeeded' : 'failed';
}

async function cached(dir: string): Promise<RunOutcome | undefined> {
  try {
    const o = JSON.parse(await readFile(path.join(dir, OUTCOME_FILE), 'utf8')) as { status?: unknown; closedAtMs?: unknown };
    if (typeof o.status === 'string' && typeof o.closedAtMs === 'number' && o.status !== 'RUNNING')
      return { class: classOf(o.status), status: o.status, endedAtMs: o.closedAtMs };
  } catch {
    // none yet
  }
  return undefined;
}

async function cache(dir: string, status: string, closedAtMs: number): Promise<void> {
  const tmp = path.join(dir, `${OUTCOME_FILE}.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify({ status, closedAtMs }));
  await rename(tmp, path.join(dir, OUTCOME_FILE));
}

/** `writeCache` false (a dry run) leaves the disk untouched. */
export async function outcomeOf(client: Client, tree: RunTree, writeCache: boolean): Promise<RunOutcome> {
  const runDir = tree.runId ? tree.paths[0]! : undefined;
  const hit = runDir ? await cached(runDir) : undefined;
  if (hit) return hit;
  try {
    // Without a run segment, the latest run of the workflow ID speaks for the tree.
    const d = await client.workflow.getHandle(tree.workflowId, tree.runId ?? undefined).describe();
    const status = d.status.name;
    const closedAtMs = d.closeTime?.getTime() ?? tree.newestMtimeMs;
    if (writeCache && runDir && status !== 'RUNNING') await cache(runDir, status, closedAtMs).catch(() => undefined);
    return { class: classOf(status), status, endedAtMs: closedAtMs };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || (err as { code?: number }).code === 5)
      return { class: 'failed', status: 'UNKNOWN', endedAtMs: tree.newestMtimeMs };
    return { class: 'unreachable', status: `lookup failed: ${(err as Error).message}`, endedAtMs: tree.newestMtimeMs };
  }
}
