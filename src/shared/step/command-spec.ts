import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { describeIssues } from '../schemas.js';
import { commandPathProblem } from '../validation/step-spec.js';
import { progressTimeoutSchema } from './liveness.js';

// The spec of one command step. Pure zod, no Node built-ins: workflows import it to validate
// their input before scheduling anything; the runCommand activity validates it again at its edge.

/** Directory inside every workspace that belongs to Shepherd (result file); steps cannot claim it. */
export const RESERVED_WORKSPACE_DIR = '.shepherd';

/** Variables Shepherd sets for every step; a spec cannot override them. */
export const RESERVED_ENV = ['SHEPHERD_RESULT_FILE', 'SHEPHERD_WORKSPACE', 'SHEPHERD_STEP_TOKEN'] as const;

/** True for a relative path that stays inside its root: no leading "/", no "..", not only ".". */
export function isWorkspaceRelativePath(p: string): boolean {
  if (p.includes('\0') || p.startsWith('/') || p.startsWith('\\')) return false;
  const segments = p.split(/[\\/]/).filter((s) => s !== '' && s !== '.');
  return segments.length > 0 && !segments.includes('..') && segments[0] !== RESERVED_WORKSPACE_DIR;
}

const workspacePath = z
  .string()
  .min(1)
  .max(4096)
  .refine(
    isWorkspaceRelativePath,
    `must be a relative path inside the workspace (no leading "/", no "..", not under ${RESERVED_WORKSPACE_DIR}/)`,
  );

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

const noNul = (s: string) => !s.includes('\0');

export const commandSpecSchema = z
  .strictObject({
    /** Program to run: a name looked up on PATH, or a path (relative ones resolve in the workspace). */
    command: z.string().min(1).refine(noNul, 'must not contain NUL'),
    /** argv after the program; never interpreted by a shell. */
    args: z.array(z.string().refine(noNul, 'must not contain NUL')).default([]),
    /** Merged over a minimal inherited environment (PATH, HOME, locale, Node settings). */
    env: z.record(envName, z.string().refine(noNul, 'must not contain NUL')).default({}),
    /** Written into the workspace before start. */
    files: z.array(z.strictObject({ path: workspacePath, content: z.string(), executable: z.boolean().default(false) })).default([]),
    /** Copied into the workspace before start (files or directories). */
    inputs: z
      .array(z.strictObject({ source: z.string().startsWith('/', 'must be an absolute path').refine(noNul), path: workspacePath }))
      .default([]),
    /** Collected from the workspace only, after a successful exit; each must exist. */
    outputs: z.array(workspacePath).default([]),
    /** Environment variable names; each receives a freshly allocated free TCP port. */
    ports: z.array(envName).default([]),
    /** Time between SIGTERM and SIGKILL when the step's process group is stopped. */
    graceMs: z.number().int().min(0).max(600_000).default(5000),
    /** Exit codes that mean "retrying cannot help" (bad input, missing data). */
    nonRetryableExitCodes: z.array(z.number().int().min(0).max(255)).default([]),
    /** Whether the program must write JSON to $SHEPHERD_RESULT_FILE. */
    resultRequired: z.boolean().default(true),
    /** No output line, progress record or workspace file growth for this long: stalled, killed, StepStalled (retryable). */
    progressTimeout: progressTimeoutSchema.optional(),
  })
  .superRefine((spec, ctx) => {
    const climbing = commandPathProblem(spec.command);
    if (climbing) ctx.addIssue({ code: 'custom', path: ['command'], message: climbing });
    for (const name of Object.keys(spec.env)) {
      if ((RESERVED_ENV as readonly string[]).includes(name)) {
        ctx.addIssue({ code: 'custom', path: ['env', name], message: 'is set by Shepherd and cannot be overridden' });
      }
      if (spec.ports.includes(name)) {
        ctx.addIssue({ code: 'custom', path: ['env', name], message: 'is also listed in ports' });
      }
    }
    spec.ports.forEach((name, i) => {
      if ((RESERVED_ENV as readonly string[]).includes(name)) {
        ctx.addIssue({ code: 'custom', path: ['ports', i], message: 'is set by Shepherd' });
      }
      if (spec.ports.indexOf(name) !== i) ctx.addIssue({ code: 'custom', path: ['ports', i], message: `duplicate port variable ${name}` });
    });
  });

/** What callers write (defaults optional). */
export type CommandSpec = z.input<typeof commandSpecSchema>;
/** After validation, with defaults filled in. */
export type ResolvedCommandSpec = z.output<typeof commandSpecSchema>;

/** Validates a spec; throws a non-retryable `InvalidCommandSpec` failure naming the field. */
export function parseCommandSpec(input: unknown, root = 'spec'): ResolvedCommandSpec {
  const parsed = commandSpecSchema.safeParse(input);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`invalid command spec: ${describeIssues(parsed.error, root)}`, 'InvalidCommandSpec');
  }
  return parsed.data;
}
