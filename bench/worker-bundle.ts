import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from '../src/workers/create-worker.js';
import { bundleOptions } from '../src/workers/bundle-options.js';

/** Shepherd's workflow bundle written to `<workDir>/<name>`, for worker processes (SHEPHERD_WORKFLOW_BUNDLE). */
export async function writeWorkflowBundle(workDir: string, name: string): Promise<string> {
  const quiet = () => undefined;
  const bundle = await bundleWorkflowCode({
    ...bundleOptions,
    workflowsPath,
    logger: { trace: quiet, debug: quiet, info: quiet, warn: quiet, error: console.error, log: quiet } as never,
  });
  const file = path.join(workDir, name);
  writeFileSync(file, bundle.code);
  return file;
}
