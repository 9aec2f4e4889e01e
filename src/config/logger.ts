import { pino, type Logger } from 'pino';

export function createLogger(level = process.env.SHEPHERD_LOG_LEVEL ?? 'info', name = 'shepherd'): Logger {
  // Logs go to stderr so that CLI output on stdout stays machine-readable.
  return pino({ name, level }, pino.destination(2));
}

export type { Logger };
