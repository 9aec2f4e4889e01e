import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { dashboardOptions } from '../../src/dashboard/options.js';
import { serveDashboard, type DashboardServer } from '../../src/dashboard/server.js';

// The dashboard of `npm start`: same settings as `shepherd dashboard` (SHEPHERD_DASHBOARD_*),
// and when its port is taken (a second stack, another program) any free port instead of failing.

export async function startStackDashboard(opts: {
  pool: pg.Pool;
  client: Client;
  uiUrl?: string;
  runsDir: string;
  say: (m: string) => void;
}): Promise<DashboardServer> {
  const o = dashboardOptions();
  const ctx = {
    pool: opts.pool,
    client: opts.client,
    namespace: opts.client.options.namespace,
    uiUrl: o.webUi ?? opts.uiUrl,
    runsDir: opts.runsDir,
    projectDir: process.cwd(),
    controls: { training: o.controls.includes('training') },
  };
  try {
    return await serveDashboard(ctx, { host: o.host, port: o.port, token: o.token });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    opts.say(`Dashboard port ${o.port} is in use; using a free port instead (set SHEPHERD_DASHBOARD_PORT to choose).`);
    return serveDashboard(ctx, { host: o.host, port: 0, token: o.token });
  }
}
