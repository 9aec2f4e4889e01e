// Artifacts that must outlive the machine that wrote them (training checkpoints and their
// manifest), kept under keys like `training/<queue>/<job>/<instance>/checkpoints/step-100.json`.
// Two implementations: a directory (a shared filesystem, or one machine's disk) and any
// S3-compatible object store. A worker without a store keeps artifacts in its data dir only.

export interface ArtifactStore {
  /** Where a key lives, for messages and results: `s3://bucket/prefix/key` or a file path. */
  locate(key: string): string;
  putFile(key: string, file: string): Promise<void>;
  /** Writes the artifact to `file`; false when the store has no such key. */
  getFile(key: string, file: string): Promise<boolean>;
  putText(key: string, text: string): Promise<void>;
  /** null when the store has no such key. */
  getText(key: string): Promise<string | null>;
  /** Deletes the keys; a key already gone is not an error. */
  delete(keys: readonly string[]): Promise<void>;
  /** Every key under a prefix (recursive), in no particular order. */
  list(prefix: string): Promise<string[]>;
}

/** Joins key segments with `/`, each URI-encoded, so a queue or job ID cannot climb out of its prefix. */
export function artifactKey(...segments: string[]): string {
  return segments.map(encodeURIComponent).join('/');
}

/** A key under `prefix`; relative names may hold `/` but no empty, `.` or `..` segment. */
export function keyUnder(prefix: string, relative: string): string {
  const parts = relative.split(/[\\/]/);
  if (parts.some((p) => p === '' || p === '.' || p === '..'))
    throw new Error(`artifact name ${JSON.stringify(relative)} is not a plain relative path`);
  return `${prefix}/${parts.map(encodeURIComponent).join('/')}`;
}
