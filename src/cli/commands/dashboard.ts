import type { Command } from 'commander';
import { connectClient } from '../../client/connection.js';
import { loadEnv } from '../../config/env.js';
import { createLogger } from '../../config/logger.js';
import { openDatabase } from '../../db/open.js';
import { checkBind } from '../../dashboard/auth.js';
import { dashboardOptions } from '../../dashboard/options.js';
import { serveDashboard } from '../../dashboard/server.js';
import { globalOptions } from '../context.js';

// `shepherd dashboard`: the results dashboard against DATABASE_URL (or the embedded database in
// SHEPHERD_DATA_DIR) and the Temporal frontend, until Ctrl-C.

export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('serve the results dashboard (127.0.0.1 by default; another address needs SHEPHERD_DASHBOARD_TOKEN)')
    .option('--host <address>', 'address to bind (default SHEPHERD_DASHBOARD_HOST or 127.0.0.1)')
    .option('--port <port>', 'port (default SHEPHERD_DASHBOARD_PORT or 8234; 0 for any free port)')
    .option('--allow-control <actions...>', 'enable control actions: training (pause / resume queues)')
    .option('--web-ui <url>', 'Temporal Web UI base URL for links (default SHEPHERD_WEB_UI_URL or http://127.0.0.1:8233)')
    .action(async (flags, cmd: Command) => {
      const opts = dashboardOptions(flags);
      // Before anything is opened, so a refusal leaves nothing to close.
      checkBind(opts.host, opts.token);
      const g = globalOptions(cmd);
      const env = loadEnv();
      const logger = createLogger(env.SHEPHERD_LOG_LEVEL, 'dashboard');
      const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir, logger, poolMax: 5 });
      const { client, connection } = await connectClient({ address: g.address, namespace: g.namespace }, { reader: true });
      const server = await serveDashboard(
        {
          pool: db.pool,
          client,
          namespace: client.options.namespace,
          uiUrl: opts.webUi ?? 'http://127.0.0.1:8233',
          runsDir: env.runsDir,
          projectDir: process.cwd(),
          controls: { training: opts.controls.includes('training') },
        },
        { host: opts.host, port: opts.port, token: opts.token },
      );
      process.stdout.write(`Shepherd dashboard: ${server.url}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      await connection.close();
      await db.close();
    });
}
