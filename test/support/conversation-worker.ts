import { randomUUID } from 'node:crypto';
import type { ModelRegistry } from '../../src/config/models.js';
import type { ConversationDefinitionInput } from '../../src/shared/conversations/schemas.js';
import { conversationRun } from '../../src/workflows/index.js';
import { registryFor, startModelWorkers } from './conversations.js';
import { startFakeModelServer } from './fake-ollama.js';
import { connectTestClient, startTestWorker, tempDir, uniqueQueue } from './harness.js';
import { waitFor } from './procs.js';
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

type Cleanups = Array<() => Promise<unknown>>;

/**
 * Starts a run of `definition` (on one model, limit `maxConcurrency`) on a spawned worker process
 * (model calls as a real worker makes them), and SIGKILLs that process while the run's first model
 * call is streaming a long reply.
 */
export async function runUntilWorkerKilled(opts: {
  base: string;
  maxConcurrency: number;
  definition: (model: string, suffix: string) => ConversationDefinitionInput;
  cleanups: Cleanups;
}) {
  const { cleanups } = opts;
  const fake = await startFakeModelServer();
  cleanups.push(() => fake.close());
  const suffix = randomUUID().slice(0, 6);
  const registry = registryFor(fake, { [opts.base]: { maxConcurrency: opts.maxConcurrency } }, suffix);
  const model = `${opts.base}-${suffix}`;
  const taskQueue = uniqueQueue('crash');
  fake.setBehaviour(model, { reply: 'y'.repeat(200), chunkSize: 1, chunkDelayMs: 50 });
  const child = spawnConversationWorker({ taskQueue, dataDir: tempDir('conv-crash'), registry, leaseTtlMs: 2000 });
  cleanups.push(async () => child.kill('SIGKILL'));
  await child.ready;
  const { client, connection } = await connectTestClient();
  cleanups.push(() => connection.close());
  const handle = await client.workflow.start(conversationRun, {
    taskQueue,
    workflowId: `conv-crash-${suffix}`,
    args: [{ definition: opts.definition(model, suffix), item: { id: 'c1', topic: 'crashes' } }],
  });
  await waitFor(() => fake.requests.some((r) => r.model === model && r.chunksSent >= 5), 'the model call streaming in the worker');
  child.kill('SIGKILL');
  await child.exited;
  return { handle, fake, registry, model, taskQueue };
}

/** An in-process worker and model workers (every call queued) taking over the task queue. */
export async function startSuccessor(taskQueue: string, registry: ModelRegistry, cleanups: Cleanups) {
  const worker = await startTestWorker({ taskQueue });
  cleanups.push(() => worker.stop());
  const models = await startModelWorkers({ taskQueue, registry, pool: worker.pool, leaseTtlMs: 2000 });
  cleanups.push(async () => {
    models.models.shutdown();
    await models.running;
  });
  return worker;
}
