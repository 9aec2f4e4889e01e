import { inject } from 'vitest';
import { spawnWorkerProcess as spawn, type WorkerProcess } from '../../scripts/lib/worker-process.js';

export type { WorkerProcess };

/** The real worker entry point as its own process, against the suite's server and database. */
export function spawnWorkerProcess(opts: {
  taskQueue: string;
  dataDir: string;
  env?: Record<string, string>;
  address?: string;
}): WorkerProcess {
  return spawn({
    TEMPORAL_ADDRESS: opts.address ?? inject('temporalAddress'),
    TEMPORAL_NAMESPACE: 'default',
    DATABASE_URL: inject('databaseUrl'),
    SHEPHERD_TASK_QUEUE: opts.taskQueue,
    SHEPHERD_DATA_DIR: opts.dataDir,
    SHEPHERD_LOG_LEVEL: 'info',
    SHEPHERD_SHUTDOWN_GRACE: '2s',
    SHEPHERD_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
    ...opts.env,
  });
}
