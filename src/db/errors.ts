/**
 * PostgreSQL data errors (class 22: bad value, class 23: constraint) fail the same way on every
 * retry; anything else (connection lost, server restarting) is worth retrying.
 */
export function isDataError(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}
