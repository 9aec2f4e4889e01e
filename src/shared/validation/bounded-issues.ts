import type { z } from 'zod';

// Validation failures travel in workflow failures and update rejections, whose attributes the
// server caps (a 950 KB failure was refused with BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES, bigger
// ones loop on GRPC_MESSAGE_TOO_LARGE). However large the input, a failure names the first few
// issues, says how many there were, and stays within a few kilobytes. Pure: used by workflows.

export const MAX_ISSUES = 10;
const MAX_ISSUE_CHARS = 300;
const MAX_KEYS_LISTED = 10;
const MAX_PATH_SEGMENTS = 8;

export interface IssueSummary {
  path: string;
  code: string;
  message: string;
}

export interface BoundedIssues {
  /** All issues zod found (the summary holds at most MAX_ISSUES). */
  total: number;
  issues: IssueSummary[];
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function pathOf(root: string, path: readonly PropertyKey[]): string {
  const parts = path.map(String);
  const shown = parts.length > MAX_PATH_SEGMENTS ? [...parts.slice(0, MAX_PATH_SEGMENTS), '…'] : parts;
  return clip([root, ...shown].join('.'), 200);
}

function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys;
    const listed = keys.slice(0, MAX_KEYS_LISTED).map((k) => JSON.stringify(clip(k, 40)));
    const more = keys.length > MAX_KEYS_LISTED ? ` and ${keys.length - MAX_KEYS_LISTED} more` : '';
    return `unrecognized key${keys.length === 1 ? '' : 's'} ${listed.join(', ')}${more}`;
  }
  return clip(issue.message, MAX_ISSUE_CHARS);
}

export function boundIssues(error: z.ZodError, root = 'input'): BoundedIssues {
  const issues = error.issues.slice(0, MAX_ISSUES).map((i) => ({ path: pathOf(root, i.path), code: i.code, message: messageOf(i) }));
  return { total: error.issues.length, issues };
}

/** "field.path: message; ..." for the first issues, then "(N more issues)". */
export function describeBoundedIssues(error: z.ZodError, root = 'input'): string {
  const b = boundIssues(error, root);
  const text = b.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return b.total > b.issues.length ? `${text}; (${b.total - b.issues.length} more issues)` : text;
}
