import { existsSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';

/**
 * Resolves a path from pipeline input (dataset, module, definition, source) inside the project
 * root, or fails non-retryably naming the field: input never reads outside the project.
 */
export function resolveInsideProject(projectDir: string, rel: string, field: string): string {
  const abs = path.resolve(projectDir, rel);
  if (path.isAbsolute(rel) || !abs.startsWith(path.resolve(projectDir) + path.sep)) {
    throw ApplicationFailure.nonRetryable(`${field}: ${rel} is outside the project directory`, 'InvalidInput');
  }
  if (!existsSync(abs)) throw ApplicationFailure.nonRetryable(`${field}: ${rel} does not exist under ${projectDir}`, 'InvalidInput');
  return abs;
}
