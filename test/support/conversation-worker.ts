import type { ModelRegistry } from '../../src/config/models.js';
import { spawnWorkerProcess, type WorkerProcess } from './worker-process.js';

// The real worker entry point with models configured (the Shepherd worker plus one worker per
// model) as a separate OS process, so a test can SIGKILL it in the middle of a model call.

export type ConversationWorkerProcess = WorkerProcess;

export function spawnConversationWorker(opts: {
  taskQueue: string;
  dataDir: string;
  registry: ModelRegistry;
  leaseTtlMs: number;
  address?: string;
}): ConversationWorkerProcess {
  return spawnWorkerProcess({
    taskQueue: opts.taskQueue,
    dataDir: opts.dataDir,
    address: opts.address,
    env: {
      SHEPHERD_MODELS: JSON.stringify(opts.registry),
      SHEPHERD_MODEL_LEASE_TTL_MS: String(opts.leaseTtlMs),
      SHEPHERD_SHUTDOWN_GRACE: '1s',
    },
  });
}
