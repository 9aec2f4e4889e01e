import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AppAddress } from '../containers.js';
import type { AnalysisProgress, AppAnalysisResult, ResetBreakerRequest, ResetBreakerResult } from './results.js';

// Message definitions shared by the workflows, the client and the CLI: callers use these
// objects, never the names as strings. (defineX only builds a descriptor; safe outside workflows.)

export const analysisProgressQuery = defineQuery<AnalysisProgress>('analysisProgress');

/** Resets an analyzer breaker, every breaker, or the pipeline breaker; returns the new state. */
export const resetBreakerUpdate = defineUpdate<ResetBreakerResult, [ResetBreakerRequest]>('resetBreaker');
/** Same as the update, for callers that cannot wait (temporal workflow signal). */
export const resetBreakerSignal = defineSignal<[ResetBreakerRequest]>('resetBreakerSignal');

/** holdAppContainer signals this (name passed as readySignal) once the app answers its health check. */
export const APP_READY_SIGNAL = 'appReady';
export const appReadySignal = defineSignal<[AppAddress]>(APP_READY_SIGNAL);

export interface AppAnalysisProgress {
  stage: string;
  address?: AppAddress;
  analyzers: AppAnalysisResult['analyzers'];
  /** App-dependent analyzers currently using the container (the container's reference count). */
  leases: number;
}
export const appAnalysisProgressQuery = defineQuery<AppAnalysisProgress>('appAnalysisProgress');
