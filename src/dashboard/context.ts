import type { Client } from '@temporalio/client';
import type pg from 'pg';

/** What every page's data handler reads from. */
export interface DashboardContext {
  pool: pg.Pool;
  client: Client;
  namespace: string;
  /** The Temporal Web UI's base URL, for links; none means no links. */
  uiUrl?: string;
  /** Runs directory of the workers (training checkpoints live next to it), when on this machine. */
  runsDir?: string;
  /** Root that definition files in conversation batch inputs are relative to. */
  projectDir: string;
  /** Control actions are off unless enabled here (SHEPHERD_DASHBOARD_CONTROLS=training). */
  controls: { training: boolean };
}
