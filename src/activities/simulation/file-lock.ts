import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';

/**
 * An exclusive, machine-wide lock on a file, held by the kernel (flock(2) via util-linux flock).
 *
 * Why not a pid/lock file: a holder that is SIGKILLed leaves such a file behind, and two waiters
 * can both decide it is stale and both "steal" it (seed 001's lock kept bad venvs alive). A flock
 * is released by the kernel when its holder dies, so there is nothing stale to detect.
 *
 * The lock is held by a small `flock … cat` child whose stdin is our pipe: if this process dies,
 * the pipe closes, cat exits and the kernel drops the lock.
 */
export interface FileLock {
  path: string;
  /** Milliseconds spent waiting for another holder. */
  waitedMs: number;
  release(): Promise<void>;
}

export class LockAbortedError extends Error {
  constructor(lockPath: string) {
    super(`gave up waiting for lock ${lockPath}`);
    this.name = 'LockAbortedError';
  }
}

function killGroup(child: ResultPromise): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

export async function acquireFileLock(lockPath: string, opts: { signal?: AbortSignal } = {}): Promise<FileLock> {
  await mkdir(path.dirname(lockPath), { recursive: true });
  const started = Date.now();
  // Constant script, no input in it: print once the lock is ours, then hold it until stdin closes.
  const child = execa('flock', ['--exclusive', lockPath, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    detached: true,
    reject: false,
    buffer: false,
    cleanup: true,
  });
  child.catch(() => undefined);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  await new Promise<void>((resolve, reject) => {
    let err = '';
    const onAbort = () => {
      killGroup(child);
      reject(new LockAbortedError(lockPath));
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    child.stdout!.once('data', () => {
      opts.signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    child.once('error', (e) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`cannot run flock (util-linux) for ${lockPath}: ${e.message}`));
    });
    void exited.then(() => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new Error(`flock exited before taking ${lockPath}: ${err.trim() || `exit ${child.exitCode}`}`));
    });
  });

  let released = false;
  return {
    path: lockPath,
    waitedMs: Date.now() - started,
    async release() {
      if (released) return;
      released = true;
      child.stdin!.end();
      const timer = setTimeout(() => killGroup(child), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs `fn` while holding the lock; always releases, whatever `fn` does. */
export async function withFileLock<T>(
  lockPath: string,
  fn: (lock: FileLock) => Promise<T>,
  opts: { signal?: AbortSignal } = {},
): Promise<T> {
  const lock = await acquireFileLock(lockPath, opts);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
