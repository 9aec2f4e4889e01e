import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { Logger } from '../../config/logger.js';
import { relativePathSchema, describeIssues } from '../../shared/schemas.js';
import type { ImageRef } from '../../shared/containers.js';
import type { ActivityDeps } from '../deps.js';
import { resolveInsideProject } from '../step/project-paths.js';
import { dockerClient, dockerEndpoint, pingRuntime } from './client.js';
import { holdAppContainer, type HoldAppInput } from './holder.js';
import { ensureImageFromDirectory } from './images.js';
import { reapDeadWorkersContainers } from './reaper.js';
import { runContainerStep, type ContainerStepInput } from './step.js';
import { ensureContainerWatchdog } from './watchdog.js';

export type { HoldAppInput } from './holder.js';
export type { ContainerStepInput, ContainerStepResult } from './step.js';

const ensureImageSchema = z.object({ context: relativePathSchema, base: z.literal('node').optional() }).strict();
export type EnsureImageInput = z.input<typeof ensureImageSchema>;

export function createContainerActivities(deps: ActivityDeps) {
  return {
    /**
     * Builds the image for a project-relative directory (its Containerfile, or a Node app on the
     * node runtime image), locally and never pulled; cached by content hash, safe concurrently.
     */
    async ensureImage(input: EnsureImageInput): Promise<ImageRef> {
      const r = ensureImageSchema.safeParse(input);
      if (!r.success) throw ApplicationFailure.nonRetryable(`invalid ensureImage input: ${describeIssues(r.error)}`, 'InvalidInput');
      const dir = resolveInsideProject(path.resolve(deps.projectDir ?? process.cwd()), r.data.context, 'context');
      const docker = dockerClient(deps.dockerHost);
      await pingRuntime(docker, dockerEndpoint(deps.dockerHost)).catch((err: Error) => {
        throw ApplicationFailure.retryable(err.message, 'ContainerRuntimeUnavailable');
      });
      try {
        return await ensureImageFromDirectory(docker, dir, r.data.base);
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw ApplicationFailure.nonRetryable(`could not build ${r.data.context}: ${(err as Error).message}`, 'ImageBuildFailed');
      }
    },
    /** See holder.ts. Needs a heartbeatTimeout: cancellation arrives with a heartbeat response. */
    async holdAppContainer(input: HoldAppInput): Promise<never> {
      return holdAppContainer(deps, input);
    },
    /** See step.ts: run-to-completion container with runCommand's guarantees. */
    async runContainerStep(input: ContainerStepInput) {
      return runContainerStep(deps, input);
    },
  };
}

/**
 * Worker start-up: when a container runtime answers, remove what dead workers left behind and
 * start this worker's watchdog. A worker on a machine without containers skips this quietly
 * (its container activities start the watchdog themselves if a runtime appears later).
 */
export async function prepareContainerRuntime(deps: Pick<ActivityDeps, 'dockerHost'> & { logger: Logger }): Promise<void> {
  const docker = dockerClient(deps.dockerHost);
  try {
    await pingRuntime(docker, dockerEndpoint(deps.dockerHost), 1000);
  } catch {
    deps.logger.debug({ dockerHost: dockerEndpoint(deps.dockerHost).url }, 'no container runtime answering; container reaping skipped');
    return;
  }
  await reapDeadWorkersContainers(docker, deps.logger).catch((err: Error) => deps.logger.warn({ err }, 'container reaping failed'));
  ensureContainerWatchdog(deps.dockerHost, deps.logger);
}
