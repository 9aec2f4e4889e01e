import { mkdirSync, unlinkSync } from 'node:fs';

// File-system operations on a step's hot path, each in as few system calls as the usual case
// allows: a step runs a few of them, and a sweep runs thousands of steps.

/** mkdir -p in one syscall when the parent exists (the usual case: a prepared workspace). */
export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') mkdirSync(dir, { recursive: true });
    else if (code !== 'EEXIST') throw err;
  }
}

/** unlink, where a file already gone is not an error (one syscall, where rmSync makes three). */
export function unlinkIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
