import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { inject } from 'vitest';
import type { ModelRegistry } from '../../src/config/models.js';

// A Shepherd worker plus its model workers as a separate OS process, so a test can SIGKILL it in
// the middle of a model call like a crashed machine. The process runs conversation-worker-main.ts
// and prints "worker started" when polling.

export interface ConversationWorkerProcess {
  pid: number;
  ready: Promise<void>;
  exited: Promise<unknown>;
  kill(signal: NodeJS.Signals): void;
}

export function spawnConversationWorker(opts: { taskQueue: string; dataDir: string; registry: ModelRegistry; leaseTtlMs: number; address?: string }): ConversationWorkerProcess {
  const child: ResultPromise = execa(process.execPath, ['--import', 'tsx', path.resolve('test/support/conversation-worker-main.ts')], {
    env: {
      TEMPORAL_ADDRESS: opts.address ?? inject('temporalAddress'),
      DATABASE_URL: inject('databaseUrl'),
      SHEPHERD_TASK_QUEUE: opts.taskQueue,
      SHEPHERD_DATA_DIR: opts.dataDir,
      SHEPHERD_MODELS: JSON.stringify(opts.registry),
      SHEPHERD_LEASE_TTL_MS: String(opts.leaseTtlMs),
      SHEPHERD_LOG_LEVEL: 'warn',
      SHEPHERD_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
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
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.then((r) => reject(new Error(`conversation worker exited before it was ready (code ${r.exitCode}): ${seen.slice(-2000)}`)));
  });
  return { pid: child.pid!, ready, exited: child, kill: (signal) => child.kill(signal) };
}

