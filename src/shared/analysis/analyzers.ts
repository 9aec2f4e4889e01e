// Contract between the analysis workflows (PIPELINE) and the runAnalyzer activity (ANALYZERS).
// Pure types only: imported by workflow code, so no node:* and no runtime dependencies.
import type { AppAddress } from '../containers.js';

export const ANALYZER_NAMES = ['static', 'dynamic', 'performance', 'ai-review'] as const;
export type AnalyzerName = (typeof ANALYZER_NAMES)[number];

/** Analyzers that need the app running in a container; the others read the source only. */
export const ANALYZERS_NEEDING_APP: readonly AnalyzerName[] = ['dynamic', 'performance'];

export function analyzerNeedsApp(name: AnalyzerName): boolean {
  return ANALYZERS_NEEDING_APP.includes(name);
}

export interface AnalysisTargetRef {
  model: string;
  app: string;
  sourceDir: string;
}

export interface RunAnalyzerInput {
  pipelineId: string;
  target: AnalysisTargetRef;
  analyzer: AnalyzerName;
  /** Present only for analyzers that need the running app. */
  address?: AppAddress;
  config?: Record<string, unknown>;
  /** The analyzer's progressTimeout, for its tool processes (see analyzerConfigSchema). */
  progressTimeout?: string | number;
  /** The appAnalysis workflow's run id; findings rows carry it so a stale attempt never wins. */
  runId: string;
}

export type AnalyzerStatus = 'completed' | 'failed' | 'skipped';

export interface AnalyzerOutcome {
  analyzer: AnalyzerName;
  status: AnalyzerStatus;
  reason?: string;
  findings: number;
  bySeverity: Record<string, number>;
  /** A path or db reference to the report, never the report itself (history stays small). */
  reportRef?: string;
  durationMs: number;
  /** Small numbers only (performance: p50Ms, p99Ms, rps, errors, non2xx, requests; dynamic: requestsAnswered). */
  metrics?: Record<string, number>;
  /** Set by appAnalysis when the analyzer never ran because the app was not there (no image, not
   *  healthy, container died): the target failed, the analyzer did not, so breakers ignore it. */
  cause?: 'app';
}

export interface PreflightAnalysisInput {
  analyzers: AnalyzerName[];
  needsRuntime: boolean;
}

export interface PreflightAnalysisResult {
  ok: boolean;
  problems: string[];
}
