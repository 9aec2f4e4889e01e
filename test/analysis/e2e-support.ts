import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { WORKFLOW_LABEL } from '../../src/activities/containers/labels.js';
import type { AnalysisPipelineInput } from '../../src/shared/analysis/input.js';
import type { AnalysisPipelineResult, TargetProgress } from '../../src/shared/analysis/results.js';
import { ensureTestContainers as ensureRuntime, testDocker } from '../containers/support.js';
import { ensureTools, ROOT } from './analyzer-support.js';

// End-to-end helpers: the example pipeline as a user would start it (only the pipeline id made
// unique, the load test shortened and the AI reviewer pointed at the local model server), and
// the containers a pipeline owns, listed by the runtime's labels.

export { testDocker };

/** The container runtime and the analyzer tools, both by the project's own set-up. */
export async function ensureTestContainers(): Promise<void> {
  await Promise.all([ensureRuntime(), ensureTools()]);
}

export const REVIEW_MODEL = 'reviewer:e2e';

export function uniquePipelineId(prefix: string): string {
  return `${prefix}_${randomUUID().slice(0, 8)}`;
}

export function exampleInput(
  file: string,
  pipelineId: string,
): AnalysisPipelineInput & { targets: Record<string, unknown>[]; analyzers: Array<{ name: string; config?: Record<string, unknown> }> } {
  const input = JSON.parse(readFileSync(path.join(ROOT, 'examples/analysis', file), 'utf8'));
  input.pipelineId = pipelineId;
  input.notify = false;
  for (const a of input.analyzers) {
    if (a.name === 'performance') a.config = { ...a.config, durationSeconds: 1, connections: 4 };
    if (a.name === 'ai-review') a.config = { ...a.config, model: REVIEW_MODEL };
  }
  return input;
}

/** Containers (running or not) belonging to the pipeline's target workflows. */
export async function pipelineContainers(docker: Docker, pipelineId: string): Promise<Docker.ContainerInfo[]> {
  const all = await docker.listContainers({ all: true, filters: { label: [WORKFLOW_LABEL] } });
  return all.filter((c) => (c.Labels[WORKFLOW_LABEL] ?? '').startsWith(`analysis-${pipelineId}-`));
}

export async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function target(result: AnalysisPipelineResult, model: string, app: string): TargetProgress {
  const t = result.targets.find((x) => x.model === model && x.app === app);
  if (!t) throw new Error(`no target ${model}/${app} in ${JSON.stringify(result.targets.map((x) => `${x.model}/${x.app}`))}`);
  return t;
}

export function outcome(t: TargetProgress, analyzer: string) {
  const o = t.analyzers.find((a) => a.analyzer === analyzer);
  if (!o) throw new Error(`no ${analyzer} outcome for ${t.model}/${t.app}: ${JSON.stringify(t.analyzers)}`);
  return o;
}
