import { NativeConnection } from '@temporalio/worker';
import { connectClient, resolveConnectOptions } from '../client/connection.js';
import { ensureConversationMetricsSchedule, ensureWorkspaceCleanupSchedule } from '../client/schedules.js';
import { loadEnv } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { openDatabase } from '../db/open.js';
import { startHealthServer } from './health.js';
import { installSdkLogging } from './sdk-logging.js';
import { createWorkerSet } from './worker-set.js';
import { installTracing, shutdownTracing } from './tracing.js';
import { abortOnSignals, connectWithRetry } from './connect-with-retry.js';
import { keyringFromEnv } from '../codec/keyring.js';
import { missingMemorySettings } from './memory-settings.js';

// `npm run worker`: a worker alone, against TEMPORAL_ADDRESS / temporal.toml and DATABASE_URL.
// SIGINT/SIGTERM are handled by the SDK runtime: stop polling, let activities finish within
// SHEPHERD_SHUTDOWN_GRACE, then cancel them (runCommand kills their process groups).
const env = loadEnv();
// Checked before anything is opened: a bad key variable stops the worker with its name.
const keyring = keyringFromEnv();
const logger = createLogger(env.SHEPHERD_LOG_LEVEL, 'shepherd-worker');
const missingSettings = missingMemorySettings();
if (missingSettings.length > 0)
  logger.warn(
    { missing: missingSettings },
    'this worker runs without its memory settings: expect more resident memory (README: Worker memory settings)',
  );
installSdkLogging(logger, 'INFO', { metricsAddress: env.SHEPHERD_METRICS_ADDRESS });
const tracing = await installTracing(env.OTEL_EXPORTER_OTLP_ENDPOINT);
const { connectionOptions, namespace } = resolveConnectOptions();
const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.dataDir, logger });
const stopWaiting = abortOnSignals();
const connection = await connectWithRetry(() => NativeConnection.connect(connectionOptions), {
  address: connectionOptions.address ?? 'localhost:7233',
  logger,
  signal: stopWaiting.signal,
}).finally(() => stopWaiting.dispose());
const workers = await createWorkerSet({ env, connection, namespace, db, logger, keyring });
const health = env.SHEPHERD_HEALTH_ADDRESS
  ? await startHealthServer(env.SHEPHERD_HEALTH_ADDRESS, () => workers.ready(), logger)
  : undefined;
// The daily metrics refresh exists wherever a worker does; creating it again is a no-op update.
const scheduler = await connectClient();
await ensureConversationMetricsSchedule(scheduler.client, { taskQueue: env.SHEPHERD_TASK_QUEUE }).catch((err: Error) =>
  logger.warn({ err }, 'could not create the conversation metrics schedule'),
);
await ensureWorkspaceCleanupSchedule(scheduler.client, {
  taskQueue: env.SHEPHERD_TASK_QUEUE,
  every: env.hygiene.cleanupEvery,
  policy: env.hygiene.retention,
})
  .catch((err: Error) => logger.warn({ err }, 'could not create the workspace cleanup schedule'))
  .finally(() => scheduler.connection.close());
logger.info(
  {
    address: connectionOptions.address,
    namespace,
    taskQueue: env.SHEPHERD_TASK_QUEUE,
    models: workers.models,
    metrics: env.SHEPHERD_METRICS_ADDRESS ?? 'off',
    tracing,
    database: db.embedded ? 'embedded' : 'DATABASE_URL',
    encryption: keyring ? `on (key ${keyring.encryptWith})` : 'off',
  },
  'worker started',
);
try {
  await workers.run();
} finally {
  await health?.close();
  await connection.close();
  await db.close();
  await shutdownTracing().catch((err: Error) => logger.warn({ err }, 'could not flush traces'));
  logger.info('worker stopped');
}
