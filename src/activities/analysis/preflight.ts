import type { AnalyzerName, PreflightAnalysisInput, PreflightAnalysisResult } from '../../shared/analysis/analyzers.js';
import { loadModelRegistry, type ModelRegistry } from '../../config/models.js';
import { dockerClient, dockerEndpoint, pingRuntime } from '../containers/client.js';
import { pickModel } from './ai-review.js';
import { findAutocannon, findEslint, findNmap, isProblem, type ToolProblem } from './tools.js';

// Before any target starts: is every requested analyzer's tool here, and is the container
// runtime answering? Each problem names the tool and what to do; the pipeline fails fast on any
// (the seed created tasks whose analyzers could never run).

function toolProblems(analyzer: AnalyzerName, registry: () => ModelRegistry): string[] {
  const found: Array<object | ToolProblem> = [];
  switch (analyzer) {
    case 'static':
      found.push(findEslint());
      break;
    case 'dynamic':
      found.push(findNmap());
      break;
    case 'performance':
      found.push(findAutocannon());
      break;
    case 'ai-review':
      try {
        pickModel(registry(), {});
      } catch (err) {
        return [`ai-review: ${(err as Error).message.replace(/^ai-review: /, '')}`];
      }
      break;
  }
  return found.filter(isProblem).map((p) => `${analyzer}: ${p.tool}: ${p.problem}`);
}

export async function preflight(
  input: PreflightAnalysisInput,
  opts: { registry?: ModelRegistry; dockerHost?: string } = {},
): Promise<PreflightAnalysisResult> {
  let reg: ModelRegistry | undefined = opts.registry;
  const registry = () => (reg ??= loadModelRegistry());
  const problems: string[] = [];
  for (const a of new Set(input.analyzers)) {
    try {
      problems.push(...toolProblems(a, registry));
    } catch (err) {
      problems.push(`${a}: ${(err as Error).message}`);
    }
  }
  if (input.needsRuntime) {
    try {
      await pingRuntime(dockerClient(opts.dockerHost), dockerEndpoint(opts.dockerHost));
    } catch (err) {
      problems.push(`container runtime: ${(err as Error).message}`);
    }
  }
  return { ok: problems.length === 0, problems };
}
