import { z } from 'zod';
import { durationSchema } from './schemas.js';

// Pure contracts for container steps; no Node built-ins, because workflows import them.

export const containerLimitsSchema = z
  .object({
    memoryMb: z.number().int().min(16).max(65536).optional(),
    cpus: z.number().positive().max(64).optional(),
  })
  .strict();

export type ContainerLimits = z.infer<typeof containerLimitsSchema>;

export const appContainerSpecSchema = z
  .object({
    /** A local image ref returned by ensureImage. */
    image: z.string(),
    cmd: z.array(z.string()).optional(),
    env: z.record(z.string(), z.string()).optional(),
    /** Port the app listens on inside the container. */
    port: z.number().int().min(1).max(65535),
    healthPath: z.string().startsWith('/').default('/'),
    healthTimeout: durationSchema.default('60s'),
    limits: containerLimitsSchema.optional(),
  })
  .strict();

export type AppContainerSpec = z.infer<typeof appContainerSpecSchema>;
export type AppContainerSpecInput = z.input<typeof appContainerSpecSchema>;

export interface AppAddress {
  containerId: string;
  name: string;
  /** Published port, read from the runtime (inspect), never guessed. */
  host: { host: '127.0.0.1'; port: number };
  /** Container name on the per-analysis network. */
  network?: { name: string; host: string; port: number };
}

export interface ImageRef {
  image: string;
  built: boolean;
  contentHash: string;
}
