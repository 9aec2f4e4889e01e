import type { ActivityDeps } from '../deps.js';
import type { AnalysisActivities } from '../../shared/analysis/activities.js';
import { claimTarget, finishTarget, recordTargets, skipTargets } from '../../db/analysis/targets.js';

/** The analysis workflows' bookkeeping activities: thin, idempotent writes to analysis_targets. */
export function createAnalysisTargetActivities(
  deps: Pick<ActivityDeps, 'pool'>,
): Pick<AnalysisActivities, 'recordAnalysisTargets' | 'skipAnalysisTargets' | 'claimAnalysisTarget' | 'finishAnalysisTarget'> {
  return {
    recordAnalysisTargets: (input) => recordTargets(deps.pool, input),
    skipAnalysisTargets: (input) => skipTargets(deps.pool, input),
    claimAnalysisTarget: (input) => claimTarget(deps.pool, input),
    finishAnalysisTarget: (input) => finishTarget(deps.pool, input),
  };
}
