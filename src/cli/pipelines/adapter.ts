import type { Client } from '@temporalio/client';
import type { PipelineHandle } from '../../client/handle.js';
import type { Outcome } from '../../shared/outcome.js';

/** Done/total for a progress bar, plus the latest output line of something running. */
export interface ProgressCounts {
  done: number;
  total: number;
  failed: number;
  /** e.g. "knn: epoch 3/10" or "loss 0.41, ETA 2m". */
  detail?: string;
}

/** What the generic verbs need to know about one pipeline. */
export interface PipelineAdapter<Input = any, Result = any, Progress = any> {
  name: string;
  /** What one execution is called ("batch", "job", "queue"). */
  noun: string;
  /** Validates a parsed input file; throws InvalidInputError naming the field. */
  validate(raw: unknown): { id: string; summary: string; input: Input };
  start(client: Client, input: Input, taskQueue: string): Promise<PipelineHandle<Result, Progress>>;
  get(client: Client, id: string): PipelineHandle<Result, Progress>;
  progressLines(p: Progress, now: number): string[];
  /** Adds what only the running steps' heartbeats know (silence, stalls) to a progress snapshot. */
  enrich?(client: Client, handle: PipelineHandle<Result, Progress>, p: Progress): Promise<Progress>;
  counts(p: Progress): ProgressCounts | undefined;
  resultLines(r: Result): string[];
  outcome(r: Result): Outcome;
}
