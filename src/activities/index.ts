import type { ActivityDeps } from './deps.js';
import { createCommandActivities } from './step/command.js';
import { createResultActivities } from './experiments/results.js';
import { createNotifyActivities } from './notify.js';
import { createExperimentActivities } from './experiments/activities.js';
import { createConversationActivities } from './conversations/activities.js';
import { createTrainingActivities } from './training/activities.js';
import { createSimulationActivities } from './simulation/activities.js';
import { createContainerActivities } from './containers/index.js';
import { createAnalysisTargetActivities } from './analysis/targets.js';
import { createAnalysisActivities } from './analysis/index.js';
import { createHygieneActivities } from './hygiene/cleanup.js';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createCommandActivities(deps),
    ...createResultActivities(deps),
    ...createNotifyActivities(deps),
    ...createExperimentActivities(deps),
    ...createConversationActivities(deps),
    ...createTrainingActivities(deps),
    ...createSimulationActivities(deps),
    ...createContainerActivities(deps),
    ...createAnalysisTargetActivities(deps),
    ...createAnalysisActivities(deps),
    ...createHygieneActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
