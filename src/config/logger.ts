import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { activityLogFields, serializeError } from './log-fields.js';

/**
 * Logs go to stderr so CLI output on stdout stays machine-readable, or to a file when an
 * interactive view (npm start's progress) owns the terminal.
 */
export function createLogger(level = process.env.SHEPHERD_LOG_LEVEL ?? 'info', name = 'shepherd', file?: string): Logger {
  if (file) mkdirSync(path.dirname(file), { recursive: true });
  const options = {
    name,
    level,
    // `err` and `error` both: the SDK's meta uses `error`, our code `err`.
    serializers: { err: serializeError, error: serializeError },
    mixin: activityLogFields,
  };
  return pino(options, file ? pino.destination({ dest: file, sync: false }) : pino.destination(2));
}

export type { Logger };
