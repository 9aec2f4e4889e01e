import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Where Shepherd keeps its data. A command run from another directory must open the same data
// as the worker (a cwd-relative `.data` made `shepherd export` open a new, empty database), so
// relative values resolve against the Shepherd checkout (the directory holding package.json),
// never against the current directory.

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function resolveDataPath(value: string): string {
  return path.resolve(PROJECT_ROOT, value);
}
