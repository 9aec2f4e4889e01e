import type { z } from 'zod';

// Checks for hostile-but-legal step specs, made when the input is validated, so a batch fails
// at the start naming the field instead of completing with failed items. Pure: workflows use it.

/** Variables Shepherd sets for a step (command steps and trainers); a spec cannot set them. */
export const RESERVED_STEP_ENV = ['SHEPHERD_RESULT_FILE', 'SHEPHERD_WORKSPACE', 'SHEPHERD_STEP_TOKEN', 'SHEPHERD_TRAINING_CONFIG'] as const;

/** Why `command` is refused (a path climbing out with ".."), or null. */
export function commandPathProblem(command: string): string | null {
  if (!/[\\/]/.test(command)) return null; // a name looked up on PATH
  return command.split(/[\\/]/).includes('..') ? 'must not contain ".." (a program path may not climb out of its directory)' : null;
}

/** Adds issues for a reserved env name or a climbing command path. */
export function checkStepSpec(spec: { command: string; env?: Record<string, string> }, ctx: z.RefinementCtx, at: PropertyKey[] = []): void {
  const problem = commandPathProblem(spec.command);
  if (problem) ctx.addIssue({ code: 'custom', path: [...at, 'command'], message: problem });
  for (const name of Object.keys(spec.env ?? {})) {
    if ((RESERVED_STEP_ENV as readonly string[]).includes(name)) {
      ctx.addIssue({ code: 'custom', path: [...at, 'env', name], message: 'is set by Shepherd and cannot be overridden' });
    }
  }
}
