import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type pg from 'pg';
import type { ActivityDeps } from '../src/activities/deps.js';

/** What every bench case gets: a live dev server, a database, the baseline measured in this run. */
export interface BenchContext {
  address: string;
  /** Pid of the Temporal server process, for CPU figures (absent when it is not a child of this run). */
  serverPid?: number;
  client: Client;
  connection: NativeConnection;
  pool: pg.Pool;
  databaseUrl: string;
  /** Fresh directory for workspaces, procs, caches. */
  workDir: string;
  /** Dependencies for Shepherd activities, pointing at the above. */
  deps: ActivityDeps;
  /** Bare-SDK no-op activity baseline measured earlier in this same run. */
  baseline: { noopActivityP50Ms: number; noopActivityP99Ms: number; noopActivitiesPerSec: number };
  /** The bench workflows (bench/workflows.ts), bundled once, and the task queues of the bare-SDK
   * and Shepherd workers running them on this server (absent in a case's standalone runner). */
  workers?: { workflowBundle: { code: string }; bareTaskQueue: string; shepherdTaskQueue: string };
  /** Records a figure for the final report. */
  report(caseName: string, metric: string, value: number | string, unit?: string): void;
}
