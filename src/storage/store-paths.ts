import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { keyUnder, type ArtifactStore } from './artifact-store.js';

/** Uploads a file to `key`, or each file of a directory under `key/<relative path>`. */
export async function putPath(store: ArtifactStore, key: string, p: string): Promise<void> {
  if (!(await stat(p)).isDirectory()) return store.putFile(key, p);
  const entries = await readdir(p, { recursive: true, withFileTypes: true });
  for (const e of entries.filter((x) => x.isFile())) {
    const file = path.join(e.parentPath, e.name);
    await store.putFile(keyUnder(key, path.relative(p, file)), file);
  }
}

/** Deletes `key` and everything under `key/`: what putPath wrote, file or directory. */
export async function deletePath(store: ArtifactStore, key: string): Promise<void> {
  await store.delete([key, ...(await store.list(key))]);
}
