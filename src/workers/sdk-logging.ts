import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from '../config/logger.js';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Routes the SDK's own logs (worker state, workflow/activity logs) and the Rust core's into our
 * pino logger, so nothing writes straight to the terminal that a progress view owns.
 */
export function installSdkLogging(logger: Logger, level: LogLevel = 'INFO', opts: { metricsAddress?: string } = {}): void {
  Runtime.install({
    logger: new DefaultLogger(level, ({ level: l, message, meta }) => logger[LEVELS[l]](meta ?? {}, message)),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} },
      // The SDK's own metrics and Shepherd's (through the same meter) at /metrics; off unless set.
      ...(opts.metricsAddress
        ? { metrics: { prometheus: { bindAddress: opts.metricsAddress, countersTotalSuffix: true, useSecondsForDurations: true } } }
        : {}),
    },
  });
}
