import { mkdirSync, unlinkSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, readdir, realpath, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { RESERVED_WORKSPACE_DIR, type ResolvedCommandSpec } from '../../shared/step/command-spec.js';
import { pathSegment, workflowWorkspaceDir } from '../../storage/workspace-layout.js';
import { resultFilePath } from './result-file.js';

// A fresh directory per run and attempt; the only place a step reads its inputs from and the
// only place its outputs are collected from. Nothing from an earlier attempt or another run can
// leak in (the seed's `cp Outputs/*.csv` copied stale and foreign results).

export interface WorkspaceKey {
  workflowId: string;
  /** The workflow run: a rerun under the same workflow ID (a batch ID used again) gets its own tree and can never empty another run's. */
  runId?: string;
  activityId: string;
  attempt: number;
}

/** `<runsDir>/<workflowId>/<runId>/<activityId>/<attempt>` (no runId segment when none is known) */
export function workspacePath(runsDir: string, key: WorkspaceKey): string {
  return path.join(runWorkspaceDir(runsDir, key), pathSegment(key.activityId), String(key.attempt));
}

/** `<runsDir>/<workflowId>/<runId>`: every workspace of one workflow run. */
export function runWorkspaceDir(runsDir: string, key: Pick<WorkspaceKey, 'workflowId' | 'runId'>): string {
  const run = key.runId ? [pathSegment(key.runId)] : [];
  return path.join(workflowWorkspaceDir(runsDir, key.workflowId), ...run);
}

/** Resolves a spec path inside the workspace, or fails non-retryably naming the field. */
export function resolveInWorkspace(workspace: string, rel: string, field: string): string {
  const root = path.resolve(workspace);
  const abs = path.resolve(root, rel);
  if (path.isAbsolute(rel) || !abs.startsWith(root + path.sep)) {
    throw ApplicationFailure.nonRetryable(`${field}: ${rel} is outside the workspace`, 'InvalidCommandSpec');
  }
  return abs;
}

/** Empties (or creates) the workspace, then writes the spec's files and copies its inputs in. */
export async function prepareWorkspace(workspace: string, spec: Pick<ResolvedCommandSpec, 'files' | 'inputs'>): Promise<string> {
  // Workspaces are fresh paths: the common case is three mkdirs (its parent, itself, the reserved
  // directory), done synchronously (the thread pool's round trips cost a busy worker more); an
  // old tree, which may be large, is removed in the background thread pool as before.
  mkdirSync(path.dirname(workspace), { recursive: true });
  if (!mkdirFresh(workspace)) {
    await rm(workspace, { recursive: true, force: true });
    mkdirSync(workspace);
  }
  mkdirSync(path.join(workspace, RESERVED_WORKSPACE_DIR));
  await populateWorkspace(workspace, spec);
  return workspace;
}

/** Writes the spec's files and copies its inputs into an empty workspace. */
export async function populateWorkspace(workspace: string, spec: Pick<ResolvedCommandSpec, 'files' | 'inputs'>): Promise<void> {
  for (const [i, file] of spec.files.entries()) {
    const dest = resolveInWorkspace(workspace, file.path, `files[${i}].path`);
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, file.content, { flag: 'wx' });
    if (file.executable) await chmod(dest, 0o755);
  }
  for (const [i, input] of spec.inputs.entries()) {
    const dest = resolveInWorkspace(workspace, input.path, `inputs[${i}].path`);
    try {
      await stat(input.source);
    } catch {
      throw ApplicationFailure.nonRetryable(`inputs[${i}].source: ${input.source} does not exist`, 'InputMissing');
    }
    await mkdir(path.dirname(dest), { recursive: true });
    // Copies content (symlinks followed), so the step never writes through to the source.
    await cp(input.source, dest, { recursive: true, dereference: true, errorOnExist: true, force: false });
  }
}

/** Creates `dir`; false when it already exists (EEXIST), so the caller must empty it first. */
function mkdirFresh(dir: string): boolean {
  try {
    mkdirSync(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/** What a step that wrote nothing but its logs and result leaves (executeStep names the logs). */
const usualFiles = (workspace: string) => [
  path.join(workspace, 'stdout.log'),
  path.join(workspace, 'stderr.log'),
  resultFilePath(workspace),
];

/**
 * Removes a finished step's workspace. The usual workspace (logs and result only) goes with three
 * synchronous unlinks and two rmdirs in the thread pool (an rmdir frees a directory block and can
 * block for a millisecond on a busy disk, too long for the event loop); anything else the program
 * left there (ENOTEMPTY) falls back to the recursive removal, a dozen thread-pool round trips.
 */
export async function removeWorkspace(workspace: string): Promise<void> {
  try {
    for (const file of usualFiles(workspace)) unlinkSync(file);
    await rmdir(path.join(workspace, RESERVED_WORKSPACE_DIR));
    await rmdir(workspace);
  } catch {
    await rm(workspace, { recursive: true, force: true });
  }
}

async function sizeOf(abs: string): Promise<number> {
  const st = await lstat(abs);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const entry of await readdir(abs)) total += await sizeOf(path.join(abs, entry));
  return total;
}

/**
 * Sizes of the declared outputs, which must exist inside the workspace. A symlink pointing out
 * of the workspace is rejected: it would smuggle in a file this attempt did not produce.
 */
export async function collectOutputs(workspace: string, outputs: readonly string[]): Promise<{ path: string; size: number }[]> {
  const root = await realpath(workspace);
  const collected: { path: string; size: number }[] = [];
  for (const [i, rel] of outputs.entries()) {
    const abs = resolveInWorkspace(workspace, rel, `outputs[${i}]`);
    let real: string;
    try {
      real = await realpath(abs);
    } catch {
      throw ApplicationFailure.nonRetryable(`output ${rel} was not produced in the workspace ${workspace}`, 'OutputMissing');
    }
    if (!real.startsWith(root + path.sep)) {
      throw ApplicationFailure.nonRetryable(`output ${rel} resolves to ${real}, outside the workspace`, 'OutputOutsideWorkspace');
    }
    collected.push({ path: rel, size: await sizeOf(real) });
  }
  return collected;
}
