import type { AppAddress, AppContainerSpec, ImageRef } from '../containers.js';
import type { AnalyzerOutcome, PreflightAnalysisInput, PreflightAnalysisResult, RunAnalyzerInput } from './analyzers.js';

// The activity signatures the analysis workflows call (implemented by RUNTIME, ANALYZERS and
// src/db/analysis). Declared here so the workflows type-check against the contract and tests can
// register simple implementations with the same names.

export interface RecordTargetsInput {
  pipelineId: string;
  /** The pipeline run that registers the rows; only it may later mark them skipped. */
  pipelineRunId: string;
  targets: { model: string; app: string; workflowId: string; sourceDir: string }[];
}

export interface SkipTargetsInput {
  pipelineId: string;
  pipelineRunId: string;
  targets: { model: string; app: string; reason: string }[];
}

export interface ClaimTargetInput {
  pipelineId: string;
  model: string;
  app: string;
  workflowId: string;
  runId: string;
  sourceDir: string;
}

export interface ClaimTargetResult {
  claimed: boolean;
  /** The run that owns the row when it is not this one. */
  ownerRunId?: string;
}

export interface FinishTargetInput {
  pipelineId: string;
  model: string;
  app: string;
  runId: string;
  status: 'completed' | 'partial' | 'failed' | 'skipped' | 'cancelled';
  reason?: string;
  analyzers: AnalyzerOutcome[];
  findings: number;
}

export interface AnalysisActivities {
  preflightAnalysis(input: PreflightAnalysisInput): Promise<PreflightAnalysisResult>;
  ensureImage(input: { context: string; base?: 'node' }): Promise<ImageRef>;
  holdAppContainer(input: { spec: AppContainerSpec; owner: { workflowId: string; runId: string }; readySignal: string }): Promise<void>;
  runAnalyzer(input: RunAnalyzerInput): Promise<AnalyzerOutcome>;
  recordAnalysisTargets(input: RecordTargetsInput): Promise<void>;
  skipAnalysisTargets(input: SkipTargetsInput): Promise<void>;
  claimAnalysisTarget(input: ClaimTargetInput): Promise<ClaimTargetResult>;
  finishAnalysisTarget(input: FinishTargetInput): Promise<void>;
  notifyWebhook(input: {
    text: string;
    title?: string;
    table?: { rows: Record<string, unknown>[]; columns?: string[] };
  }): Promise<{ sent: boolean; reason?: string }>;
}

export type { AppAddress };
