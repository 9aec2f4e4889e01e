import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { RESERVED_WORKSPACE_DIR } from '../../shared/step/command-spec.js';

// A step reports its result by writing JSON to $SHEPHERD_RESULT_FILE; stdout is only a log.
// Missing or invalid result after exit 0 is non-retryable: the program claimed success without
// honouring the protocol, and running the same program again would do the same. Programs that
// can fail transiently should exit non-zero instead (CommandFailed, retryable).

/** Results travel through Temporal history; large data belongs in an output file. */
export const MAX_RESULT_BYTES = 256 * 1024;

export function resultFilePath(workspace: string): string {
  return path.join(workspace, RESERVED_WORKSPACE_DIR, 'result.json');
}

/**
 * The parsed result, or null when the file is absent and not required. Read synchronously: at most
 * MAX_RESULT_BYTES from local disk, where four trips through the thread pool (open, stat, read,
 * close) cost a busy worker more than the read itself.
 */
export async function readStepResult(file: string, required: boolean): Promise<unknown> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    if (!required) return null;
    throw ApplicationFailure.nonRetryable(
      `the program exited 0 but wrote no result file ($SHEPHERD_RESULT_FILE = ${file}); results are read from that file, never from stdout`,
      'ResultMissing',
    );
  }
  if (size > MAX_RESULT_BYTES) {
    throw ApplicationFailure.nonRetryable(
      `result file is ${size} bytes, over the ${MAX_RESULT_BYTES}-byte limit; write large data to an output file and return its path`,
      'ResultTooLarge',
    );
  }
  const text = readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const preview = text.length > 200 ? `${text.slice(0, 200)}…` : text;
    throw ApplicationFailure.nonRetryable(
      `result file ${file} is not valid JSON (${(err as Error).message}): ${JSON.stringify(preview)}`,
      'ResultInvalid',
    );
  }
}
