import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { NativeConnection } from '@temporalio/worker';
import { inject } from 'vitest';
import type { ConversationDefinitionInput } from '../../src/shared/conversations/schemas.js';
import { createLogger } from '../../src/config/logger.js';
import type { ModelConfig, ModelRegistry } from '../../src/config/models.js';
import { createModelWorkers, type ModelWorkers } from '../../src/workers/model-workers.js';
import { ModelSlotRegistry } from '../../src/workers/local-model-slots.js';
import { startFakeModelServer, type FakeModelServer } from './fake-ollama.js';
import { startTestWorker, type TestWorker, type TestWorkerOptions } from './harness.js';

// A conversation stack for tests: the fake model server, an in-process Shepherd worker and the
// per-model workers, all against the suite's dev server and database. Model names get a unique
// suffix per stack so lease rows and audit rows of different tests never meet.

export const EXAMPLE_MODELS = ['qwen2.5:7b', 'gemma3:4b', 'mistral:latest'] as const;

export function loadExample(file = 'wf3005.json'): ConversationDefinitionInput {
  return JSON.parse(readFileSync(`examples/conversations/${file}`, 'utf8')) as ConversationDefinitionInput;
}

export function loadItems(file = 'skills.jsonl'): Record<string, string>[] {
  return readFileSync(`examples/conversations/${file}`, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** The definition with every llm model renamed through `rename`, and a fresh name. */
export function withModels(def: ConversationDefinitionInput, rename: (m: string) => string, name?: string): ConversationDefinitionInput {
  const copy = JSON.parse(JSON.stringify(def)) as ConversationDefinitionInput;
  for (const s of copy.steps) if (s.actor?.kind === 'llm') s.actor.model = rename(s.actor.model);
  if (name) copy.name = name;
  return copy;
}

export interface ConversationStack {
  worker: TestWorker;
  models: ModelWorkers;
  modelsRunning: Promise<void>;
  fake: FakeModelServer;
  registry: ModelRegistry;
  /** The suffixed name of a base model. */
  model(base: string): string;
  suffix: string;
  stop(): Promise<void>;
}

export interface StackOptions extends TestWorkerOptions {
  /** base model name → limit (and optional provider settings). */
  models: Record<string, Partial<ModelConfig> & { maxConcurrency: number }>;
  fake?: FakeModelServer;
  leaseTtlMs?: number;
  /** Reuse model names of an earlier stack (e.g. after a restart). */
  suffix?: string;
  /** Model calls local-first, as a worker process sets them up (createWorkerSet); default: every call queued. */
  localCalls?: boolean;
}

export function registryFor(fake: FakeModelServer, models: StackOptions['models'], suffix: string): ModelRegistry {
  return {
    models: Object.fromEntries(
      Object.entries(models).map(([base, cfg]) => [
        `${base}-${suffix}`,
        { provider: 'ollama', baseUrl: cfg.provider === 'openai' ? `${fake.url}/v1` : fake.url, jsonMode: 'schema', ...cfg } as ModelConfig,
      ]),
    ),
  };
}

export async function startModelWorkers(opts: {
  taskQueue: string;
  registry: ModelRegistry;
  pool: TestWorker['pool'];
  leaseTtlMs?: number;
  address?: string;
  localSlots?: ModelSlotRegistry;
}) {
  const connection = await NativeConnection.connect({ address: opts.address ?? inject('temporalAddress') });
  const models = await createModelWorkers({
    connection,
    namespace: 'default',
    taskQueue: opts.taskQueue,
    pool: opts.pool,
    registry: opts.registry,
    logger: createLogger(process.env.SHEPHERD_LOG_LEVEL ?? 'warn', 'test-models'),
    leaseTtlMs: opts.leaseTtlMs ?? 5000,
    shutdownGraceTime: '1s',
    localSlots: opts.localSlots,
  });
  const running = models.run().finally(() => connection.close());
  return { models, running };
}

export async function startConversationStack(opts: StackOptions): Promise<ConversationStack> {
  const suffix = opts.suffix ?? randomUUID().slice(0, 6);
  const fake = opts.fake ?? (await startFakeModelServer());
  const registry = registryFor(fake, opts.models, suffix);
  const localSlots = opts.localCalls ? new ModelSlotRegistry() : undefined;
  const worker = await startTestWorker({ ...opts, deps: { ...opts.deps, modelSlots: localSlots } });
  const { models, running } = await startModelWorkers({
    taskQueue: worker.taskQueue,
    registry,
    pool: worker.pool,
    leaseTtlMs: opts.leaseTtlMs,
    address: opts.address,
    localSlots,
  });
  return {
    worker,
    models,
    modelsRunning: running,
    fake,
    registry,
    suffix,
    model: (base) => `${base}-${suffix}`,
    async stop() {
      models.shutdown();
      await running.catch(() => undefined);
      await worker.stop();
      if (!opts.fake) await fake.close();
    },
  };
}

type StepInput = ConversationDefinitionInput['steps'][number];

/** A two-step definition on one model (ask, then summarise), with tight timeouts for failure tests. */
export function twoStepDefinition(
  name: string,
  model: string,
  over: { ask?: Partial<StepInput>; defaults?: Partial<ConversationDefinitionInput['defaults']> } = {},
): ConversationDefinitionInput {
  return {
    name,
    item: { key: 'id', fields: ['id', 'topic'] },
    start: 'ask',
    defaults: {
      timeout: '20s',
      heartbeatTimeout: '1s',
      retry: { maximumAttempts: 3, initialInterval: '100ms', backoffCoefficient: 1, maximumInterval: '1s' },
      ...over.defaults,
    },
    steps: [
      { id: 'ask', actor: { kind: 'llm', model, prompt: 'Tell me about {{item.topic}}.' }, next: 'summarise', ...over.ask },
      { id: 'summarise', actor: { kind: 'llm', model, prompt: 'Summarise: {{steps.ask.text}}' }, end: true },
    ],
  };
}
