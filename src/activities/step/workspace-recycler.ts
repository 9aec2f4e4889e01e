import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, renameSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { RESERVED_WORKSPACE_DIR, type ResolvedCommandSpec } from '../../shared/step/command-spec.js';
import { unlinkIfPresent } from './fs-ops.js';
import { resultFilePath } from './result-file.js';
import { populateWorkspace, prepareWorkspace, removeWorkspace } from './workspace.js';

// The workspaces of a batch's successful steps, emptied and kept for its next steps. Creating a
// directory or a file is most of what a fresh workspace costs on some file systems (ext4 without
// a journal passes over every inode freed in the last minute to allocate one: 0.1-0.6 ms per
// create here under a sweep's churn, against ~10 µs for a rename). A recycled workspace is as
// fresh as a new one: nothing in it but the two logs, emptied, which the step opens again anyway.

const LOGS = ['stderr.log', 'stdout.log'];

export class WorkspaceRecycler {
  private readonly spares: string[] = [];
  private made = 0;
  private dirMade = false;

  /** `dir`: where spares wait, a directory of this batch's own (made on first use, removed by dispose). */
  constructor(
    private readonly dir: string,
    private readonly max: number,
  ) {}

  /** prepareWorkspace, but moving a spare into place when there is one. */
  async prepare(workspace: string, spec: Pick<ResolvedCommandSpec, 'files' | 'inputs'>): Promise<string> {
    const spare = this.spares.pop();
    if (spare === undefined) return prepareWorkspace(workspace, spec);
    mkdirSync(path.dirname(workspace), { recursive: true });
    try {
      // Onto nothing, or onto an empty directory: either way `workspace` is the spare now.
      renameSync(spare, workspace);
    } catch {
      // Something is there already (an earlier attempt's tree): the usual path empties it.
      this.spares.push(spare);
      return prepareWorkspace(workspace, spec);
    }
    await populateWorkspace(workspace, spec);
    return workspace;
  }

  /** After a successful step: keeps its workspace as a spare when it holds only the logs and the result, else removes it. */
  async release(workspace: string): Promise<void> {
    if (this.spares.length < this.max && emptied(workspace)) {
      const spare = path.join(this.dir, String(this.made++));
      try {
        if (!this.dirMade) mkdirSync(this.dir, { recursive: true });
        this.dirMade = true;
        renameSync(workspace, spare);
        this.spares.push(spare);
        return;
      } catch {
        // fall through: removed like any other
      }
    }
    await removeWorkspace(workspace);
  }

  /** Removes the spares and their directory. */
  async dispose(): Promise<void> {
    const spares = this.spares.splice(0);
    await Promise.all(spares.map((s) => removeWorkspace(s)));
    if (this.dirMade) {
      try {
        rmdirSync(this.dir);
      } catch {
        // a spare that could not be removed stays visible; the run's tree is cleaned up as a whole later
      }
    }
  }
}

/**
 * Empties a finished step's workspace for reuse, if all it holds is the two logs (regular files
 * with no other name, so emptying one cannot reach a file outside) and the reserved directory
 * with at most the result file. False, having changed at most the result file, when it holds
 * anything else.
 */
function emptied(workspace: string): boolean {
  try {
    const entries = readdirSync(workspace, { withFileTypes: true });
    const names = entries.map((e) => e.name).sort();
    if (names.join('/') !== [RESERVED_WORKSPACE_DIR, ...LOGS].join('/')) return false;
    if (!entries.every((e) => (e.name === RESERVED_WORKSPACE_DIR ? e.isDirectory() : e.isFile()))) return false;
    unlinkIfPresent(resultFilePath(workspace));
    if (readdirSync(path.join(workspace, RESERVED_WORKSPACE_DIR)).length > 0) return false;
    return LOGS.every((log) => emptyLog(path.join(workspace, log)));
  } catch {
    return false;
  }
}

function emptyLog(file: string): boolean {
  const fd = openSync(file, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1) return false;
    if (st.size > 0) ftruncateSync(fd, 0);
    return true;
  } finally {
    closeSync(fd);
  }
}
