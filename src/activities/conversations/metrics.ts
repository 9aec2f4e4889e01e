import { refreshMetrics } from '../../db/conversations/step-metrics.js';
import type { ActivityDeps } from '../deps.js';

export function createMetricsActivities(deps: ActivityDeps) {
  return {
    /** Run daily by the conversationMetrics schedule. */
    async refreshConversationMetrics({ days }: { days?: number } = {}): Promise<{ rows: number }> {
      return { rows: await refreshMetrics(deps.pool, days ?? 7) };
    },
  };
}
