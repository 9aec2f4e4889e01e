import { z } from 'zod';
import { describeBoundedIssues } from '../shared/validation/bounded-issues.js';
import { oncePerThread } from './thread-memo.js';

// Pure zod schemas shared by pipelines; no Node built-ins, because workflows import them.

// Built once per workflow thread, not per workflow (see thread-memo.ts).
const schemas = oncePerThread('shared/schemas', () => {
  /** An identifier that is safe in workflow IDs, file names and SQL keys. */
  const idSchema = z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/,
      'must be 1-100 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
    );

  /** Temporal duration strings such as "30s", "10m", "2h", or milliseconds as a number. */
  const durationSchema = z.union([
    z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'must be a duration like "500ms", "30s", "10m", "2h"'),
    z.number().int().positive(),
  ]);

  /** A path relative to the project (or input) root; never absolute, never escaping it. */
  const relativePathSchema = z
    .string()
    .min(1)
    .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a relative path inside the project, without ".."');

  const retrySchema = z
    .object({
      maximumAttempts: z.number().int().min(1).max(100).default(3),
      initialInterval: durationSchema.default('1s'),
      backoffCoefficient: z.number().min(1).max(10).default(2),
      maximumInterval: durationSchema.default('1m'),
    })
    .strict();
  return { idSchema, durationSchema, relativePathSchema, retrySchema };
});
export const { idSchema, durationSchema, relativePathSchema, retrySchema } = schemas;

export type RetryConfig = z.infer<typeof retrySchema>;

/** Formats zod issues as "field.path: message" so an error names the field. */
export function describeIssues(error: z.ZodError, root = 'input'): string {
  // Bounded: the first issues and a count, whatever the input's size (issue 12 item 3).
  return describeBoundedIssues(error, root);
}
