import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { ChaosStack } from './stack.js';

// The pipeline mix: small real pipelines whose steps are real processes that run long enough
// (a few seconds) for a scheduled SIGKILL of their worker to land in the middle of them.

export interface Pipeline {
  kind: string;
  workflowId: string;
  handle: WorkflowHandle;
}

export interface PipelineKind {
  kind: string;
  start(stack: ChaosStack, n: number): Promise<Pipeline>;
}

const retry = { maximumAttempts: 20, initialInterval: '200ms', maximumInterval: '2s' };

function nodeStep(name: string, ms: number) {
  const program = `const fs = require('node:fs');
    let left = ${ms}; const t = setInterval(() => { left -= 250; console.log('working', left);
      if (left <= 0) { clearInterval(t); fs.writeFileSync(process.env.SHEPHERD_RESULT_FILE, JSON.stringify({ accuracy: 0.9 })); process.exit(0); } }, 250);`;
  return { name, command: process.execPath, args: ['-e', program] };
}

const experiments: PipelineKind = {
  kind: 'experimentBatch',
  async start(stack, n) {
    const batchId = `chaos-${stack.marker.slice(0, 6)}-${n}`;
    const workflowId = `experiment-batch-${batchId}`;
    const input = {
      batchId,
      maxConcurrency: 2,
      heartbeatTimeout: '3s',
      retry,
      experiments: [nodeStep('a', 2000 + (n % 3) * 1000), nodeStep('b', 1500)],
    };
    const handle = await stack.client.workflow.start('experimentBatch', { taskQueue: stack.taskQueue, workflowId, args: [input] });
    return { kind: this.kind, workflowId, handle };
  },
};

const REPLICATE = `#!/bin/sh
sleep 0.$((SHEPHERD_REPLICATE % 9 + 1))
printf '{"value": %s}' "$SHEPHERD_REPLICATE" > "$SHEPHERD_RESULT_FILE"
`;

const simulation: PipelineKind = {
  kind: 'simulationJob',
  async start(stack, n) {
    const script = path.join(stack.root, 'replicate.sh');
    writeFileSync(script, REPLICATE);
    chmodSync(script, 0o755);
    const jobId = `chaos-${stack.marker.slice(0, 6)}-${n}`;
    const workflowId = `simulation-${jobId}`;
    const input = {
      jobId,
      replicate: { command: 'sh', args: [script] },
      parameters: [{ values: { k: 1 } }, { values: { k: 2 } }],
      replicates: 4,
      maxConcurrentReplicates: 2,
      replicateRetry: retry,
      aggregate: { fields: ['value'], percentiles: [50] },
    };
    const handle = await stack.client.workflow.start('simulationJob', { taskQueue: stack.taskQueue, workflowId, args: [input] });
    return { kind: this.kind, workflowId, handle };
  },
};

export const MIX: PipelineKind[] = [experiments, simulation];
