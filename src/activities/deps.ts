import type pg from 'pg';
import type { Client } from '@temporalio/client';
import type { Logger } from '../config/logger.js';
import type { ModelConfig } from '../config/models.js';
import type { DiskFloor } from '../shared/hygiene/schemas.js';
import type { ArtifactStore } from '../storage/artifact-store.js';

/** A model slot held for one call, with the serving worker's settings for the model; give it back once the call has ended. */
export interface LocalModelLease {
  config: ModelConfig;
  release(): void;
}

/** The per-model slots of this process's model workers, for model calls the main worker makes itself. */
export interface LocalModelSlots {
  /** A slot of the model without waiting, or null: none free, or no model worker here serves it. */
  lease(model: string): Promise<LocalModelLease | null>;
  /** Whether a model worker of this process serves the model. */
  serves(model: string): boolean;
}

/** What activities need from the outside world; injected so tests can point them anywhere real. */
export interface ActivityDeps {
  pool: pg.Pool;
  /** Root of per-run, per-attempt workspaces. */
  runsDir: string;
  /** Where a worker records the step processes it started, so a successor can reap them. */
  procDir: string;
  /** Slack-compatible incoming webhook; from env only, never from workflow input. */
  webhookUrl?: string;
  logger: Logger;
  /** Root that relative paths in pipeline inputs (datasets, programs) resolve against; default cwd. */
  projectDir?: string;
  /** Engine API endpoint for container steps (unix:///path or tcp://host:port); default DOCKER_HOST, else Shepherd's podman socket. */
  dockerHost?: string;
  /** Free space under which command steps wait instead of starting (SHEPHERD_DISK_FLOOR); read at every check, unset = none. */
  diskFloor?: DiskFloor;
  /** Client for activities that signal workflows (holdAppContainer); default the worker's own (activity Context.client). */
  temporalClient?: Client;
  /** Where training checkpoints are mirrored for workers on other machines (SHEPHERD_ARTIFACT_STORE); unset = the data dir only. */
  artifacts?: ArtifactStore;
  /** Model slots for calls made inside the workflow task (src/workers/local-model-slots.ts); unset = every call goes to its model's queue. */
  modelSlots?: LocalModelSlots;
}
