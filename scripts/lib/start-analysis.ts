import type { Client } from '@temporalio/client';
import { startAnalysisPipeline } from '../../src/client/analysis.js';
import { printResult, resultOf } from '../../src/cli/commands/analysis.js';
import type { AnalysisPipelineInput } from '../../src/shared/analysis/input.js';
import { ensureAnalyzerTools } from './analyzers.js';
import { ensureContainerRuntime } from './containers/index.js';

// `npm start -- examples/analysis/<file>.json`: the analysis example needs a container runtime
// and the analyzers' tools before the worker starts (its start-up reaps and watches containers).

/** An analysis pipeline input (targets to analyse) rather than an experiment batch. */
export function isAnalysisInput(input: unknown): input is AnalysisPipelineInput {
  return typeof input === 'object' && input !== null && Array.isArray((input as { targets?: unknown }).targets);
}

export async function prepareAnalysisRuntime(say: (m: string) => void): Promise<void> {
  const rt = await ensureContainerRuntime({ log: say });
  await ensureAnalyzerTools(say);
  say(`Container runtime: ${rt.kind} at ${rt.dockerHost}`);
}

/** Starts (or attaches to) the pipeline, prints each change of the targets' states, then the result. */
export async function runAnalysisExample(
  client: Client,
  input: AnalysisPipelineInput,
  opts: { taskQueue: string; uiUrl: string; say: (m: string) => void },
): Promise<void> {
  const handle = await startAnalysisPipeline(client, input, { taskQueue: opts.taskQueue, attachIfRunning: true });
  opts.say(
    `\nRunning analysis ${input.pipelineId} as workflow ${handle.workflowId}\n  ${opts.uiUrl}/namespaces/default/workflows/${encodeURIComponent(handle.workflowId)}\n`,
  );
  const result = handle.result();
  let finished = false;
  const settled = result.then(
    () => (finished = true),
    () => (finished = true),
  );
  let last = '';
  while (!finished) {
    const p = await handle.progress().catch(() => undefined);
    const line = p?.targets.map((t) => `${t.model}/${t.app}: ${t.status}`).join(', ') ?? '';
    if (line && line !== last) opts.say(line);
    last = line || last;
    await Promise.race([settled, new Promise((r) => setTimeout(r, 2000))]);
  }
  try {
    printResult(await result);
  } catch (err) {
    const r = resultOf(err);
    if (r) printResult(r);
    else opts.say(`\nAnalysis failed: ${(err as Error).message}`);
  }
}
