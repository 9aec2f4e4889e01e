import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { describeIssues } from '../shared/schemas.js';
import { boundIssues } from '../shared/validation/bounded-issues.js';

/**
 * Parses workflow input at the top of a workflow. Any other throw would become a workflow-task
 * retry loop that shows as "Running" forever; a non-retryable failure ends it, naming the field.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, root = 'input'): z.infer<S> {
  if (input === undefined || input === null) {
    throw ApplicationFailure.nonRetryable(`${root}: missing workflow input (expected a JSON object)`, 'InvalidInput');
  }
  if (input instanceof Uint8Array) {
    // A binary/plain payload: every byte index would be reported as an unrecognised key.
    throw ApplicationFailure.nonRetryable(
      `${root}: expected a JSON object, got ${input.length} bytes of binary data (payload encoding binary/plain)`,
      'InvalidInput',
    );
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(
      `invalid ${root}: ${describeIssues(parsed.error, root)}`,
      'InvalidInput',
      boundIssues(parsed.error, root),
    );
  }
  return parsed.data;
}
