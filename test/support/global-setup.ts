import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { ensureChromium } from '../../scripts/lib/browser.js';
import { startDevServer, type DevServer } from '../../scripts/lib/dev-server.js';
import { startCluster } from '../../scripts/lib/cluster/cluster.js';
import { createPool } from '../../src/db/pool.js';
import { migrate } from '../../src/db/migrate.js';
import { workflowsPath } from '../../src/workers/create-worker.js';
import { bundleOptions } from '../../src/workers/bundle-options.js';
import { createTestDatabase } from './database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    databaseUrl: string;
    workflowBundlePath: string;
    tmpRoot: string;
  }
}

/**
 * One dev server, one fresh database and one workflow bundle for the whole suite.
 * SHEPHERD_TEST_CLUSTER=1: a real multi-process cluster on PostgreSQL instead of the dev server.
 */
export default async function setup(project: TestProject) {
  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'shepherd-test-'));
  const onCluster = process.env.SHEPHERD_TEST_CLUSTER === '1';
  const [server, db, bundle] = await Promise.all([
    onCluster
      ? startCluster({ root: path.join(tmpRoot, 'cluster') })
      : (startDevServer({ logFile: path.join(tmpRoot, 'temporal.log') }) as Promise<DevServer>),
    createTestDatabase(),
    bundleWorkflowCode({ ...bundleOptions, workflowsPath, logger: quietLogger }),
    // Browser tests (dashboard) drive Debian's chromium; installed here when missing.
    ensureChromium((m) => console.log(m)),
  ]);
  const pool = createPool(db.url);
  await migrate(pool);
  await pool.end();
  const workflowBundlePath = path.join(tmpRoot, 'workflow-bundle.js');
  writeFileSync(workflowBundlePath, bundle.code);

  project.provide('temporalAddress', server.address);
  project.provide('databaseUrl', db.url);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('tmpRoot', tmpRoot);

  return async () => {
    await server.stop();
    await db.drop();
  };
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
