import { z } from 'zod';
import { durationToMs } from '../durations.js';
import { durationSchema } from '../schemas.js';
import { parseByteSize } from '../bytes.js';

// Workspace retention and the data-dir disk floor: the policy the cleanup workflow applies, its
// input and report, and the disk floor grammar the environment uses ("1GiB", "5%").

export const WORKSPACE_CLEANUP_WORKFLOW_TYPE = 'workspaceCleanup';
/** Workflow ID of an on-demand cleanup (the Schedule's runs use `<scheduleId>-run-<time>`). */
export const workspaceCleanupWorkflowId = (stamp: string) => `workspace-cleanup-${stamp}`;

/** A floor as bytes free or as a percentage of the filesystem's size. */
export type DiskFloor = { bytes: number } | { percent: number };

/** "1GiB", "2147483648", "5%"; undefined when it is neither a size nor a percentage in [0, 100). */
export function parseDiskFloor(text: string): DiskFloor | undefined {
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(text.trim());
  if (pct) return Number(pct[1]) < 100 ? { percent: Number(pct[1]) } : undefined;
  const bytes = parseByteSize(text);
  return bytes === undefined ? undefined : { bytes };
}

/** The floor in bytes on a filesystem of `totalBytes`. */
export function floorBytes(floor: DiskFloor, totalBytes: number): number {
  return 'bytes' in floor ? floor.bytes : Math.ceil((floor.percent / 100) * totalBytes);
}

const byteSizeSchema = z.union([
  z.number().int().min(0),
  z.string().refine((s) => parseByteSize(s) !== undefined, 'must be a size like "500MiB", "20GB" or a number of bytes'),
]);

/** One class of runs (succeeded, or failed/unknown): how many per workflow, and for how long. */
const keepSchema = z
  .object({
    /** The newest `last` runs of this class per workflow ID are kept (unless older than maxAge). */
    last: z.number().int().min(0).max(10_000),
    /** Runs that ended longer ago than this are removed. */
    maxAge: durationSchema,
  })
  .strict();

export const DEFAULT_RETENTION = {
  succeeded: { last: 3, maxAge: '7d' },
  failed: { last: 10, maxAge: '30d' },
  maxTotalSize: '20GiB',
} as const;

export const retentionPolicySchema = z
  .object({
    succeeded: keepSchema.default(DEFAULT_RETENTION.succeeded),
    /** Failed, cancelled, terminated, timed-out and unknown-outcome runs: kept longer to be looked at. */
    failed: keepSchema.default(DEFAULT_RETENTION.failed),
    /** Above this total, the oldest ended runs go (succeeded first) until the rest fits. */
    maxTotalSize: byteSizeSchema.default(DEFAULT_RETENTION.maxTotalSize),
  })
  .strict();

export type RetentionPolicy = z.infer<typeof retentionPolicySchema>;

export const workspaceCleanupInputSchema = z
  .object({
    /** Required, so nothing is deleted by a start that forgot to say: true = report only. */
    dryRun: z.boolean(),
    policy: retentionPolicySchema.default(retentionPolicySchema.parse({})),
  })
  .strict();

export type WorkspaceCleanupInput = z.input<typeof workspaceCleanupInputSchema>;

/** Milliseconds and bytes of a parsed policy. */
export function policyLimits(p: RetentionPolicy) {
  const size = typeof p.maxTotalSize === 'number' ? p.maxTotalSize : parseByteSize(p.maxTotalSize)!;
  return {
    succeeded: { last: p.succeeded.last, maxAgeMs: durationToMs(p.succeeded.maxAge) },
    failed: { last: p.failed.last, maxAgeMs: durationToMs(p.failed.maxAge) },
    maxTotalBytes: size,
  };
}

export type RunClass = 'succeeded' | 'failed' | 'running';

/** One workflow run's workspace tree in the report. */
export interface RunReport {
  workflowId: string;
  /** Null for a tree written without a run segment (one tree per workflow ID). */
  runId: string | null;
  bytes: number;
  class: RunClass;
  /** Temporal's status (COMPLETED, FAILED, ...), RUNNING, or UNKNOWN (history gone, lookup failed). */
  status: string;
  /** Why it was removed or kept: "beyond the last 3 succeeded runs", "running", "within policy"... */
  reason: string;
}

export interface WorkspaceCleanupReport {
  dryRun: boolean;
  runsDir: string;
  scannedRuns: number;
  removedRuns: number;
  /** Bytes freed (or that a dry run would free), as allocated on disk. */
  freedBytes: number;
  keptRuns: number;
  keptBytes: number;
  /** Every removed run, and the first kept ones (lists are capped: a report stays far below Temporal's payload limit). */
  removed: RunReport[];
  kept: RunReport[];
  /** Runs not listed because of the cap. */
  omitted: { removed: number; kept: number };
  /** Free space where workspaces live, against the disk floor that stops new steps. */
  disk: { freeBytes: number; floorBytes: number; underFloor: boolean };
  /** Problems that did not stop the cleanup (a tree that could not be removed...). */
  warnings: string[];
}
