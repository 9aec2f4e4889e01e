import { ApplicationFailure } from '@temporalio/activity';

// Errors of a conversation batch's SQL item source that no retry can fix: the query is wrong,
// not the database. SQLSTATE classes 42 (syntax error, undefined table/column, 42501 permission),
// 0A (feature not supported, e.g. a data-modifying WITH inside the paging subquery), 22 (data
// exception) and 25006 (read-only violation). Everything else (connection loss, 57014 statement
// timeout, 40001 serialization) is left to the retry policy.

export function isPermanentSqlError(code: string | undefined): boolean {
  if (!code) return false;
  return code.startsWith('42') || code.startsWith('0A') || code.startsWith('22') || code === '25006';
}

/** The error to throw for `err` from the source query: non-retryable naming the source when permanent, else `err`. */
export function classifySourceError(err: unknown, keyColumn: string): unknown {
  const e = err as Error & { code?: string };
  if (!isPermanentSqlError(e.code)) return err;
  return ApplicationFailure.nonRetryable(
    `source.query (the batch's SQL item source, keyColumn "${keyColumn}") failed with SQLSTATE ${e.code}, which retrying cannot fix: ${e.message}`,
    'InvalidSourceQuery',
  );
}
