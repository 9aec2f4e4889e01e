import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { inject } from 'vitest';

export interface WorkerProcess {
  pid: number;
  ready: Promise<void>;
  exited: Promise<unknown>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Runs the real worker entry point (`npm run worker`'s src/workers/main.ts) as a separate OS
 * process, so a test can SIGKILL it like a crashed machine would.
 */
export function spawnWorkerProcess(opts: { taskQueue: string; dataDir: string; env?: Record<string, string>; address?: string }): WorkerProcess {
  // `node --import tsx`, not the tsx binary: that one relays to a child node, and a SIGKILL of
  // the relay would leave the real worker running.
  const child: ResultPromise = execa(process.execPath, ['--import', 'tsx', path.resolve('src/workers/main.ts')], {
    env: {
      TEMPORAL_ADDRESS: opts.address ?? inject('temporalAddress'),
      TEMPORAL_NAMESPACE: 'default',
      DATABASE_URL: inject('databaseUrl'),
      SHEPHERD_TASK_QUEUE: opts.taskQueue,
      SHEPHERD_DATA_DIR: opts.dataDir,
      SHEPHERD_LOG_LEVEL: 'info',
      SHEPHERD_SHUTDOWN_GRACE: '2s',
      SHEPHERD_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      ...opts.env,
    },
    reject: false,
    stdin: 'ignore',
    buffer: false,
  });
  const ready = new Promise<void>((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-20_000);
      if (seen.includes('worker started')) resolve();
    };
    child.stderr!.on('data', onData);
    child.stdout!.on('data', onData);
    child.then((r) => reject(new Error(`worker exited before it was ready (code ${r.exitCode}): ${seen.slice(-2000)}`)));
  });
  return {
    pid: child.pid!,
    ready,
    exited: child,
    kill: (signal) => child.kill(signal),
  };
}
