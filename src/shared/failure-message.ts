/**
 * The innermost cause's message: for a failed child or activity that is the program's own
 * words (exit code, stderr tail), not "Activity task failed" wrappers.
 */
export function rootMessage(err: unknown): string {
  let e = err as (Error & { cause?: unknown }) | undefined;
  while (e?.cause instanceof Error) e = e.cause as Error & { cause?: unknown };
  return e?.message ?? String(err);
}
