import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { enqueueUpdate, statusQuery } from '../../src/shared/training/messages.js';
import { trainingQueueWorkflowId } from '../../src/shared/training/workflow-ids.js';
import { conversationBatchWorkflowId } from '../../src/shared/conversations/workflow-ids.js';
import { analysisPipelineWorkflowId } from '../../src/shared/analysis/ids.js';
import type { AnalysisPipelineResult } from '../../src/shared/analysis/results.js';
import { prepareAnalysisRuntime } from '../lib/start-analysis.js';
import { CHAOS_MODEL, type ChaosStack } from './stack.js';

// The pipeline mix: small real pipelines whose steps are real processes that run long enough
// (a few seconds) for a scheduled SIGKILL of their worker to land in the middle of them.

export interface Pipeline {
  kind: string;
  workflowId: string;
  handle: WorkflowHandle;
  /** How this pipeline ends; default: its workflow's result. */
  settle?: () => Promise<'completed' | 'failed'>;
}

export interface PipelineKind {
  kind: string;
  start(stack: ChaosStack, n: number): Promise<Pipeline>;
  /** At most this many per run (a heavy kind on a 2-core machine); default unlimited. */
  maxPerRun?: number;
  /** Sets up what the kind needs; resolves to why it cannot run here, or undefined. */
  prepare?(log: (line: string) => void): Promise<string | undefined>;
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

// A queue never completes by itself: one queue per pipeline, one job in it; the pipeline is over
// when the queue lists the job as finished.
const training: PipelineKind = {
  kind: 'trainingQueue',
  async start(stack, n) {
    const queue = `chaos-${stack.marker.slice(0, 6)}-${n}`;
    const workflowId = trainingQueueWorkflowId(queue);
    const handle = await stack.client.workflow.start('trainingQueue', {
      taskQueue: stack.taskQueue,
      workflowId,
      args: [{ queue, progressIntervalMs: 500, notify: false }],
    });
    const jobId = `job-${n}`;
    const job = {
      jobId,
      dataset: 'examples/experiments/data/iris.csv',
      steps: 600,
      evalInterval: 50,
      checkpointInterval: 100,
      heartbeatTimeout: '3s',
      retry,
      params: { stepDelayMs: 5 },
    };
    await handle.executeUpdate(enqueueUpdate, { args: [job] });
    const settle = async (): Promise<'completed' | 'failed'> => {
      for (;;) {
        const done = (await handle.query(statusQuery)).recent.find((r) => r.jobId === jobId);
        if (done) return done.status === 'completed' ? 'completed' : 'failed';
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    return { kind: this.kind, workflowId, handle, settle };
  },
};

// Two streamed model steps per item, three items, two at a time: kills land mid-call.
const conversations: PipelineKind = {
  kind: 'conversationBatch',
  async start(stack, n) {
    const batchId = `chaos-${stack.marker.slice(0, 6)}-${n}`;
    const workflowId = conversationBatchWorkflowId(batchId);
    const items = [1, 2, 3].map((i) => ({ id: `item-${i}`, topic: `topic ${i}` }));
    const definition = {
      name: 'chaos-two-steps',
      item: { key: 'id', fields: ['id', 'topic'] },
      start: 'ask',
      defaults: { timeout: '1m', heartbeatTimeout: '3s', retry },
      steps: [
        { id: 'ask', actor: { kind: 'llm', model: CHAOS_MODEL, prompt: 'Tell me about {{item.topic}}.' }, next: 'sum' },
        { id: 'sum', actor: { kind: 'llm', model: CHAOS_MODEL, prompt: 'Summarise: {{steps.ask.text}}' }, end: true },
      ],
    };
    const input = { batchId, definition, source: { kind: 'items', items }, concurrency: 2, notify: false };
    const handle = await stack.client.workflow.start('conversationBatch', { taskQueue: stack.taskQueue, workflowId, args: [input] });
    // Completed only when every item completed: a batch that ends with failed items is a failure here.
    const settle = async (): Promise<'completed' | 'failed'> => {
      const r = (await handle.result()) as { completed: number; failed: number };
      return r.completed === items.length && r.failed === 0 ? 'completed' : 'failed';
    };
    return { kind: this.kind, workflowId, handle, settle };
  },
};

// One real app container per pipeline (the guestbook example, built by the worker), a static
// scan and a short load test against it: kills land during the build, the health wait or the
// load test, and the container of a killed worker must not survive it.
const GUESTBOOK = 'examples/analysis/apps/llama-coder-app1';
const analysis: PipelineKind = {
  kind: 'analysisPipeline',
  maxPerRun: 2,
  async prepare(log) {
    try {
      await prepareAnalysisRuntime(log);
      return undefined;
    } catch (err) {
      return `no container runtime or analyzer tools: ${(err as Error).message.split('\n')[0]}`;
    }
  },
  async start(stack, n) {
    const pipelineId = `chaos_${stack.marker.slice(0, 6)}_${n}`;
    const workflowId = analysisPipelineWorkflowId(pipelineId);
    const input = {
      pipelineId,
      notify: false,
      targets: [
        {
          model: 'llama-coder',
          app: 1,
          sourceDir: GUESTBOOK,
          buildContext: GUESTBOOK,
          port: 8080,
          healthPath: '/health',
          healthTimeout: '60s',
        },
      ],
      // As test/analysis/e2e-worker-crash: the load test's heartbeat timeout outlasts the app
      // holder's (20 s), so a retried load test finds the replacement container's address.
      analyzers: [{ name: 'static' }, { name: 'performance', heartbeatTimeout: '45s', config: { durationSeconds: 3, connections: 2 } }],
    };
    const handle = await stack.client.workflow.start('analysisPipeline', { taskQueue: stack.taskQueue, workflowId, args: [input] });
    const settle = async (): Promise<'completed' | 'failed'> => {
      const r = (await handle.result()) as AnalysisPipelineResult;
      return r.status === 'completed' ? 'completed' : 'failed';
    };
    return { kind: this.kind, workflowId, handle, settle };
  },
};

export const MIX: PipelineKind[] = [experiments, simulation, training, conversations, analysis];

/** The kind the n-th pipeline gets: round robin over the kinds that can still run. */
export function kindFor(n: number, started: Record<string, number>, skipped: Record<string, string>): PipelineKind | undefined {
  for (let i = 0; i < MIX.length; i++) {
    const k = MIX[(n + i) % MIX.length]!;
    if (k.kind in skipped) continue;
    if (k.maxPerRun !== undefined && (started[k.kind] ?? 0) >= k.maxPerRun) continue;
    return k;
  }
  return undefined;
}
