import type { AnalyzerName, AnalyzerOutcome } from './analyzers.js';
import type { AnalyzerBreaker, PipelineBreaker, TargetStatus } from './breakers.js';

export type TargetProgressStatus = 'queued' | 'running' | TargetStatus;

/** One target as the pipeline sees it (query, result, webhook table). */
export interface TargetProgress {
  model: string;
  app: string;
  workflowId: string;
  status: TargetProgressStatus;
  reason?: string;
  analyzers: AnalyzerOutcome[];
  findings: number;
  /** Workflow time (ms since epoch) the child started / finished. */
  startedAt?: number;
  finishedAt?: number;
}

export interface AnalysisProgress {
  pipelineId: string;
  stage: string;
  targets: TargetProgress[];
  breakers: { analyzers: AnalyzerBreaker[]; pipeline: PipelineBreaker };
}

/** skipped: nothing ran and nothing failed (every target was a duplicate of another start). */
export type AnalysisPipelineStatus = 'completed' | 'completed_with_failures' | 'failed' | 'skipped' | 'cancelled';

export interface AnalysisPipelineResult {
  pipelineId: string;
  status: AnalysisPipelineStatus;
  counts: Record<TargetStatus, number>;
  findings: number;
  targets: TargetProgress[];
  breakers: AnalysisProgress['breakers'];
  notified: boolean;
}

export interface AppAnalysisResult {
  pipelineId: string;
  model: string;
  app: string;
  status: Exclude<TargetStatus, 'cancelled'>;
  reason?: string;
  analyzers: AnalyzerOutcome[];
  findings: number;
  /** Whether an app container was held, and for how long (workflow time). */
  container?: { image: string; heldMs: number };
}

export type BreakerTarget = 'pipeline' | 'all' | AnalyzerName;

export interface ResetBreakerRequest {
  breaker: BreakerTarget;
}

export interface ResetBreakerResult {
  reset: BreakerTarget[];
  breakers: AnalysisProgress['breakers'];
}
