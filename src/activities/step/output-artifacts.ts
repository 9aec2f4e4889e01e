import path from 'node:path';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import { keyUnder } from '../../storage/artifact-store.js';
import { deletePath, putPath } from '../../storage/store-paths.js';

// A step's declared outputs, uploaded to the artifact store under the same layout as the
// workspace they came from (`runs/<workflowId>/<runId>/<activityId>/<attempt>/<output>`), so a
// rerun's outputs never overwrite an earlier run's and the workspace cleanup deletes both together.

export interface StepOutput {
  path: string;
  size: number;
  /** Where the store keeps it (`s3://...`); absent without a store. */
  artifact?: string;
}

/** `runs/<segments>` of a directory under the runs dir (its segments are encoded already). */
export function runsKey(runsDir: string, dir: string): string {
  const rel = path.relative(path.resolve(runsDir), path.resolve(dir));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${dir} is not inside the runs directory ${runsDir}`);
  return ['runs', ...rel.split(path.sep)].join('/');
}

export async function uploadOutputs(
  store: ArtifactStore,
  runsDir: string,
  workspace: string,
  outputs: readonly StepOutput[],
): Promise<StepOutput[]> {
  const base = runsKey(runsDir, workspace);
  const uploaded: StepOutput[] = [];
  for (const o of outputs) {
    const key = keyUnder(base, path.normalize(o.path));
    await putPath(store, key, path.join(workspace, o.path));
    uploaded.push({ ...o, artifact: store.locate(key) });
  }
  return uploaded;
}

/** Deletes from the store whatever was uploaded from these workspace trees. */
export async function deleteRunArtifacts(store: ArtifactStore, runsDir: string, trees: readonly string[]): Promise<void> {
  for (const t of trees) await deletePath(store, runsKey(runsDir, t));
}
