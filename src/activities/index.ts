import type { ActivityDeps } from './deps.js';
import { createCommandActivities } from './command.js';
import { createResultActivities } from './results.js';
import { createNotifyActivities } from './notify.js';
import { createExperimentActivities } from './experiments.js';
import { createConversationActivities } from './conversations.js';
import { createTrainingActivities } from './training.js';
import { createSimulationActivities } from './simulation.js';
import { createContainerActivities } from './containers/index.js';
import { createAnalysisTargetActivities } from '../db/analysis/target-activities.js';
import { createAnalysisActivities } from './analysis/index.js';

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
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
