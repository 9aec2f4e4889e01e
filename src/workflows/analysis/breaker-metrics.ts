import { metricMeter } from '@temporalio/workflow';
import type { BreakerState } from '../../shared/analysis/breakers.js';
import type { AnalysisProgress } from '../../shared/analysis/results.js';

// The breakers' states as a Prometheus state set: one series per (pipeline, breaker, state),
// 1 for the state the breaker is in and 0 for the others, so an alert is a plain
// `shepherd_breaker_state{state="open"} == 1`. Emitted from the workflow through the SDK's
// workflow meter (skipped during replay, no history commands), at the worker's /metrics.

const STATES: readonly BreakerState[] = ['closed', 'open', 'half-open'];

/** Sets every breaker's series; `ended` zeroes them all, so a finished pipeline leaves no breaker "open". */
export function publishBreakerStates(pipelineId: string, breakers: AnalysisProgress['breakers'], ended = false): void {
  const gauge = metricMeter.createGauge('shepherd_breaker_state', 'int', 'state', 'analysis breaker state (1 = in this state)');
  const all = [
    ...breakers.analyzers.map((b) => ({ name: b.analyzer as string, state: b.state })),
    { name: 'pipeline', state: breakers.pipeline.state },
  ];
  for (const b of all) {
    for (const s of STATES) gauge.set(!ended && b.state === s ? 1 : 0, { pipeline_id: pipelineId, breaker: b.name, state: s });
  }
}
