import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { SimulationJobInput, SimulationJobResult } from '../../src/shared/simulation/schemas.js';
import { batchResult } from '../../src/client/outcome.js';
import { tempDir } from './harness.js';
import { simulationJob } from '../../src/workflows/index.js';

// A replicate program for tests: POSIX sh (cheap to start), behaviour chosen per parameter set
// through `{param.mode}`, result written to $SHEPHERD_RESULT_FILE, noise on stdout.
const SCRIPT = `#!/bin/sh
mode="$1"
r="$SHEPHERD_REPLICATE"
case "$mode" in
  ok) ;;
  every5th-fails) if [ $((r % 5)) -eq 0 ]; then echo "boom: replicate $r diverged" >&2; exit 1; fi ;;
  import-error) echo "Traceback (most recent call last):" >&2; echo "ImportError: No module named 'numpy'" >&2; exit 1 ;;
  no-result) echo "ready"; exit 0 ;;
  hang) echo "loading model..." >&2; exec sleep 600 ;;
  hold-3) if [ "$r" = "3" ]; then while [ ! -f "$RELEASE_FILE" ]; do sleep 0.05; done; v=1000; fi ;;
  hold-from-10) if [ "$r" -ge 10 ]; then while [ ! -f "$RELEASE_FILE" ]; do sleep 0.05; done; fi ;;
  hold-all) while [ ! -f "$RELEASE_FILE" ]; do sleep 0.05; done ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
echo "progress chatter on stdout is never parsed"
printf '{"value": %s, "seed": %s, "nested": {"r": %s}}' "\${v:-$r}" "$SHEPHERD_SEED" "$r" > "$SHEPHERD_RESULT_FILE"
`;

export function writeReplicateScript(): string {
  const dir = tempDir('replicate');
  const file = path.join(dir, 'replicate.sh');
  writeFileSync(file, SCRIPT);
  chmodSync(file, 0o755);
  return file;
}

export function shJob(
  script: string,
  overrides: Partial<SimulationJobInput> & Pick<SimulationJobInput, 'jobId' | 'parameters' | 'replicates'>,
): SimulationJobInput {
  return {
    replicate: { command: 'sh', args: [script, '{param.mode}'] },
    aggregate: { fields: ['value', 'nested.r'], percentiles: [50] },
    replicateRetry: { maximumAttempts: 2, initialInterval: '100ms' },
    maxConcurrentReplicates: 4,
    ...overrides,
  } as SimulationJobInput;
}

export async function startSimulation(client: Client, taskQueue: string, input: SimulationJobInput) {
  return client.workflow.start(simulationJob, { taskQueue, workflowId: `simulation-${input.jobId}`, args: [input] });
}

export async function runSimulation(client: Client, taskQueue: string, input: SimulationJobInput): Promise<SimulationJobResult> {
  const handle = await startSimulation(client, taskQueue, input);
  // A job whose every parameter set failed fails as a workflow, its result in the details.
  return batchResult<SimulationJobResult>(handle);
}
