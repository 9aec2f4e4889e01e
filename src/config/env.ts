import path from 'node:path';
import { z } from 'zod';
import { resolveDataPath } from './data-dir.js';
import { durationSchema } from '../shared/schemas.js';
import { parseByteSize } from '../shared/bytes.js';
import {
  DEFAULT_RETENTION as D,
  parseDiskFloor,
  retentionPolicySchema,
  type DiskFloor,
  type RetentionPolicy,
} from '../shared/hygiene/schemas.js';

// Payload encryption (src/codec/): the keys, the encrypting key and the codec server's settings.
// Unset keys = payloads stay plain JSON. The key formats are checked where the keyring is built
// (src/codec/keyring.ts), so every program, worker or client, names the same variable.
const encryptionEnvShape = {
  /** Every key that may decode: comma-separated `keyId:base64-of-32-bytes`. */
  SHEPHERD_ENCRYPTION_KEYS: z.string().optional(),
  /** The key that encrypts new payloads; one of SHEPHERD_ENCRYPTION_KEYS. */
  SHEPHERD_ENCRYPTION_KEY_ID: z.string().optional(),
  /** `shepherd codec-server`: bearer token every request must carry when set (required off loopback). */
  SHEPHERD_CODEC_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  /** `shepherd codec-server`: comma-separated origins CORS allows (the Temporal Web UI's). */
  SHEPHERD_CODEC_CORS_ORIGINS: z.string().optional(),
};
export type EncryptionEnv = z.infer<z.ZodObject<typeof encryptionEnvShape>>;

/** The encryption block alone: a client must not fail on a worker-only variable. */
export function loadEncryptionEnv(source: NodeJS.ProcessEnv = process.env): EncryptionEnv {
  const set = Object.fromEntries(Object.entries(source).filter(([k, v]) => k in encryptionEnvShape && v !== undefined && v.trim() !== ''));
  const parsed = z.object(encryptionEnvShape).safeParse(set);
  if (parsed.success) return parsed.data;
  // Never the value: these are secrets.
  throw new Error(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
}

// Process environment, validated once at the edge so a typo fails with the variable's name.
const envSchema = z.object({
  ...encryptionEnvShape,
  SHEPHERD_TASK_QUEUE: z.string().min(1).default('shepherd'),
  DATABASE_URL: z.url().optional(),
  SHEPHERD_WEBHOOK_URL: z.url().optional(),
  SHEPHERD_DATA_DIR: z.string().min(1).default('.data'),
  SHEPHERD_RUNS_DIR: z.string().min(1).optional(),
  SHEPHERD_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  SHEPHERD_SHUTDOWN_GRACE: z.string().default('30s'),
  SHEPHERD_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().positive().default(20),
  /**
   * Workflows kept in the worker's cache (sticky execution); unset = the SDK's default, which
   * grows with the heap limit (~2,300 on a 4 GiB heap). Lower bounds memory at many open
   * pipelines; an evicted workflow is replayed from its history at its next task.
   */
  SHEPHERD_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
  /** A prebuilt workflow bundle (bundleWorkflowCode output) to load instead of bundling at start. */
  SHEPHERD_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /**
   * `queued` sends every model call through its model's task queue; `local-first` (default) lets
   * the workflow's own worker make a call itself when it serves the model and has a slot free now.
   * Local calls are faster (no dispatch, no workflow task per step) but a run's cancellation reaches
   * an in-flight local call only when its workflow task is next renewed (every ~8 s).
   */
  SHEPHERD_MODEL_CALLS: z.enum(['local-first', 'queued']).default('local-first'),
  /** How long a dead worker's per-model slot leases block others. */
  SHEPHERD_MODEL_LEASE_TTL_MS: z.coerce.number().int().min(1000).optional(),
  /** host:port of the Prometheus endpoint (/metrics); unset = no endpoint. Use 127.0.0.1 unless it must be reachable. */
  SHEPHERD_METRICS_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d+$/, 'expected host:port, e.g. 127.0.0.1:9464')
    .optional(),
  /** OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318); set = traces are exported. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  /** host:port of the worker's own health endpoint (GET /healthz, /readyz); unset means none. */
  SHEPHERD_HEALTH_ADDRESS: z
    .string()
    .regex(/^[^:]+:\d+$/, 'must be host:port')
    .optional(),
  /**
   * Where artifacts that must outlive this machine go (training checkpoints and manifests):
   * `local` keeps them in the data dir, or in SHEPHERD_ARTIFACT_DIR when set (a filesystem every
   * worker mounts); `s3` uploads them to SHEPHERD_S3_BUCKET (any S3-compatible server).
   */
  SHEPHERD_ARTIFACT_STORE: z.enum(['local', 's3']).default('local'),
  SHEPHERD_ARTIFACT_DIR: z.string().min(1).optional(),
  SHEPHERD_S3_BUCKET: z.string().min(3).optional(),
  SHEPHERD_S3_PREFIX: z.string().default(''),
  /** For S3-compatible servers (MinIO, versitygw, Ceph...); unset means AWS itself. */
  SHEPHERD_S3_ENDPOINT: z.url().optional(),
  SHEPHERD_S3_REGION: z.string().min(1).default('us-east-1'),
  // Disk hygiene (README "Disk hygiene"): workspace retention per workflow ID, applied by the
  // workspaceCleanup Schedule, and the floor of free space under which no new step starts.
  SHEPHERD_WORKSPACE_KEEP_SUCCEEDED: z.coerce.number().int().min(0).optional(),
  SHEPHERD_WORKSPACE_KEEP_FAILED: z.coerce.number().int().min(0).optional(),
  SHEPHERD_WORKSPACE_MAX_AGE_SUCCEEDED: durationSchema.optional(),
  SHEPHERD_WORKSPACE_MAX_AGE_FAILED: durationSchema.optional(),
  SHEPHERD_WORKSPACE_MAX_TOTAL_SIZE: z
    .string()
    .refine((s) => parseByteSize(s) !== undefined, 'must be a size like "20GiB", "500MB" or bytes')
    .optional(),
  /** How often the Schedule runs the cleanup; "0" = no Schedule (run it with `shepherd workspaces clean`). */
  SHEPHERD_WORKSPACE_CLEANUP_EVERY: z.union([z.literal('0'), durationSchema]).default('1h'),
  /** Free space under which steps wait instead of starting: bytes ("1GiB") or a percentage ("5%"); "0" = off. */
  SHEPHERD_DISK_FLOOR: z
    .string()
    .refine((s) => parseDiskFloor(s) !== undefined, 'must be a size like "1GiB", bytes, or a percentage like "5%"')
    .default('1GiB'),
});

/** Every variable the worker reads itself (others: TEMPORAL_* via envconfig, SHEPHERD_MODELS*, AWS_* via the AWS SDK). */
export const SHEPHERD_ENV_VARIABLES = Object.keys(envSchema.shape);

export interface HygieneSettings {
  retention: RetentionPolicy;
  diskFloor: DiskFloor;
  /** 0 = no cleanup Schedule. */
  cleanupEvery: string;
}

export type ShepherdEnv = z.infer<typeof envSchema> & { dataDir: string; runsDir: string; hygiene: HygieneSettings };

function hygieneOf(e: z.infer<typeof envSchema>): HygieneSettings {
  const retention = retentionPolicySchema.parse({
    succeeded: {
      last: e.SHEPHERD_WORKSPACE_KEEP_SUCCEEDED ?? D.succeeded.last,
      maxAge: e.SHEPHERD_WORKSPACE_MAX_AGE_SUCCEEDED ?? D.succeeded.maxAge,
    },
    failed: { last: e.SHEPHERD_WORKSPACE_KEEP_FAILED ?? D.failed.last, maxAge: e.SHEPHERD_WORKSPACE_MAX_AGE_FAILED ?? D.failed.maxAge },
    ...(e.SHEPHERD_WORKSPACE_MAX_TOTAL_SIZE ? { maxTotalSize: e.SHEPHERD_WORKSPACE_MAX_TOTAL_SIZE } : {}),
  });
  return { retention, diskFloor: parseDiskFloor(e.SHEPHERD_DISK_FLOOR)!, cleanupEvery: String(e.SHEPHERD_WORKSPACE_CLEANUP_EVERY) };
}

export function loadEnv(source: NodeJS.ProcessEnv = process.env): ShepherdEnv {
  // An empty variable means unset: docker compose's `${SHEPHERD_WEBHOOK_URL:-}` and shells'
  // `VAR=` must not fail as "Invalid URL".
  const set = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = envSchema.safeParse(set);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid environment: ${problems}`);
  }
  if (parsed.data.SHEPHERD_ARTIFACT_STORE === 's3' && !parsed.data.SHEPHERD_S3_BUCKET)
    throw new Error('invalid environment: SHEPHERD_S3_BUCKET: required when SHEPHERD_ARTIFACT_STORE=s3 (the bucket artifacts go to)');
  // Relative to the Shepherd checkout, not the current directory (see data-dir.ts).
  const dataDir = resolveDataPath(parsed.data.SHEPHERD_DATA_DIR);
  const runsDir = resolveDataPath(parsed.data.SHEPHERD_RUNS_DIR ?? path.join(dataDir, 'runs'));
  return { ...parsed.data, dataDir, runsDir, hygiene: hygieneOf(parsed.data) };
}
