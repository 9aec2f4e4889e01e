import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { batchProgress, startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { connectClient } from '../src/client/connection.js';
import { ensureConversationMetricsSchedule } from '../src/client/schedules.js';
import { renderResultTable, watchProgress } from '../src/cli/progress-view.js';
import { loadEnv } from '../src/config/env.js';
import { createLogger } from '../src/config/logger.js';
import { openDatabase } from '../src/db/open.js';
import { createWorkerSet } from '../src/workers/worker-set.js';
import { keyringFromEnv } from '../src/codec/keyring.js';
import { installSdkLogging } from '../src/workers/sdk-logging.js';
import { startDevServer } from './lib/dev-server.js';
import { startStackDashboard } from './lib/stack-dashboard.js';
import { isAnalysisInput, prepareAnalysisRuntime, runAnalysisExample } from './lib/start-analysis.js';

// `npm start`: the embedded stack (dev server on a SQLite file, embedded or given PostgreSQL,
// an in-process worker), the example batch with live progress, then the stack stays up.
const EXAMPLE = process.argv[2] ?? 'examples/experiments/iris-batch.json';
const env = loadEnv();
const keyring = keyringFromEnv(); // a bad SHEPHERD_ENCRYPTION_* variable stops here, before any server starts
const port = Number(process.env.SHEPHERD_TEMPORAL_PORT ?? 7233);
const uiPort = Number(process.env.SHEPHERD_UI_PORT ?? 8233);
const logFile = path.join(env.dataDir, 'worker.log');
const logger = createLogger(env.SHEPHERD_LOG_LEVEL, 'shepherd', logFile);
installSdkLogging(logger);
const say = (msg: string) => process.stdout.write(`${msg}\n`);

say(`Starting Temporal dev server (state in ${path.relative(process.cwd(), env.dataDir)}/temporal.db)...`);
const server = await startDevServer({
  dbFile: path.join(env.dataDir, 'temporal.db'),
  port,
  uiPort,
  headless: false,
  logFile: path.join(env.dataDir, 'temporal.log'),
}).catch((err: Error) => {
  console.error(`Could not start the Temporal dev server on ports ${port}/${uiPort}: ${err.message}`);
  console.error('Another server may hold them; set SHEPHERD_TEMPORAL_PORT / SHEPHERD_UI_PORT, or stop it.');
  process.exit(1);
});
say(`Temporal Web UI: ${server.uiUrl}`);

const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir, logger });
say(`Database: ${db.embedded ? `embedded PostgreSQL (PGlite) in ${path.relative(process.cwd(), env.dataDir)}/pglite` : 'DATABASE_URL'}`);

const input: unknown = JSON.parse(readFileSync(EXAMPLE, 'utf8'));
if (isAnalysisInput(input)) await prepareAnalysisRuntime(say);

const connection = await NativeConnection.connect({ address: server.address });
const worker = await createWorkerSet({ env, connection, namespace: 'default', db, logger, shutdownGraceTime: '10s', keyring });
const workerRun = worker.run();
say(`Worker polling task queue "${env.SHEPHERD_TASK_QUEUE}" (logs: ${path.relative(process.cwd(), logFile)})`);
if (keyring)
  say(
    `Payloads encrypted with key "${keyring.encryptWith}"; to read them in the Web UI, run \`shepherd codec-server\` and set it as the UI's codec server`,
  );

// eslint-disable-next-line prefer-const -- assigned once the stack is up; shutdown() may run before that
let dashboard: Awaited<ReturnType<typeof startStackDashboard>> | undefined;
let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  say('\nStopping worker, database and Temporal server...');
  worker.shutdown();
  await dashboard?.close().catch(() => undefined);
  await workerRun.catch(() => undefined);
  await connection.close().catch(() => undefined);
  await db.close().catch(() => undefined);
  await server.stop();
  say('Stopped.');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

const { client } = await connectClient({ address: server.address, namespace: 'default' });
await ensureConversationMetricsSchedule(client, { taskQueue: env.SHEPHERD_TASK_QUEUE });
const { client: reader } = await connectClient({ address: server.address, namespace: 'default' }, { reader: true });
dashboard = await startStackDashboard({ pool: db.pool, client: reader, uiUrl: server.uiUrl, runsDir: env.runsDir, say });
say(`Dashboard: ${dashboard.url}   (beside the Temporal Web UI: ${server.uiUrl})`);
if (isAnalysisInput(input)) {
  await runAnalysisExample(client, input, {
    taskQueue: env.SHEPHERD_TASK_QUEUE ?? 'shepherd',
    uiUrl: server.uiUrl ?? 'http://127.0.0.1:8233',
    say,
  });
  say(`\nFindings are in PostgreSQL (table analysis_findings): npm run shepherd -- analysis findings ${input.pipelineId}`);
  say(`Results dashboard: ${dashboard.url}/analysis`);
  say('Press Ctrl-C to stop everything.');
  await workerRun;
  process.exit(0);
}
const handle = await startExperimentBatch(client, input, { taskQueue: env.SHEPHERD_TASK_QUEUE, attachIfRunning: true });
const link = `${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}`;
say(`\nRunning ${EXAMPLE} as workflow ${handle.workflowId}\n  ${link}\n`);

const result = handle.result() as Promise<ExperimentBatchResult>;
await watchProgress(() => batchProgress(handle), result);
try {
  const final = await result;
  say(`\nBatch ${final.batchId}: ${final.status} (${final.succeeded} succeeded, ${final.failed} failed)\n`);
  say(renderResultTable(final.experiments));
  say(`\nResults are in PostgreSQL (table experiment_results); export: npm run shepherd -- export ${final.batchId} --format csv`);
} catch (err) {
  say(`\nBatch failed: ${(err as Error).message}`);
}
say(`\nThe stack stays up for inspection: ${link}`);
say(`Results dashboard: ${dashboard.url}`);
say('Temporal CLI: temporal workflow list --address ' + server.address);
say('Press Ctrl-C to stop everything.');
await workerRun;
