import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';

const { refreshConversationMetrics } = proxyActivities<Activities>({
  startToCloseTimeout: '10m',
  retry: { maximumAttempts: 5, initialInterval: '10s' },
});

/** Started daily by the conversation-metrics Schedule (src/client/schedules.ts). */
export async function conversationMetrics(input: { days?: number } = {}): Promise<{ rows: number }> {
  return refreshConversationMetrics({ days: input?.days ?? 7 });
}
