import { Context } from '@temporalio/activity';
import type { PreflightAnalysisInput, PreflightAnalysisResult } from '../../shared/analysis/analyzers.js';
import { preflight } from './preflight.js';
import { createRunAnalyzer, type AnalysisDeps } from './run-analyzer.js';

// The analyzer activities: runAnalyzer (one analyzer, one target, one attempt) and
// preflightAnalysis (tools and runtime present?).

export type { AnalysisDeps } from './run-analyzer.js';

export function createAnalysisActivities(deps: AnalysisDeps) {
  return {
    runAnalyzer: createRunAnalyzer(deps),
    async preflightAnalysis(input: PreflightAnalysisInput): Promise<PreflightAnalysisResult> {
      Context.current().heartbeat({ phase: 'preflight' });
      return preflight(input, { registry: deps.registry, dockerHost: deps.dockerHost });
    },
  };
}
