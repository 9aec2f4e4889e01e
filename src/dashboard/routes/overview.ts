import { Hono } from 'hono';
import { pausedTrainingJobs } from '../../db/dashboard/disk-pauses.js';
import { pipelineStates } from '../../db/dashboard/pipeline-states.js';
import { throughputPerHour } from '../../db/dashboard/throughput.js';
import type { DashboardContext } from '../context.js';
import { listExecutions, pendingSteps, webUiLink, type PipelineExecution } from '../temporal.js';

// Overview: every pipeline execution by kind and state, throughput per hour, steps that look
// stuck or slow, disk-floor pauses. The state joins Temporal (running / failed / ...) with the
// database (a "Completed" batch whose row says completed_with_failures is partly failed).

export type PipelineState = 'running' | 'completed' | 'partly failed' | 'failed' | 'cancelled';

export function stateOf(status: string, dbStatus: string | undefined): PipelineState {
  if (status === 'RUNNING') return 'running';
  if (status === 'CANCELLED') return 'cancelled';
  if (status !== 'COMPLETED') return 'failed';
  if (dbStatus === 'completed_with_failures') return 'partly failed';
  if (dbStatus === 'failed' || dbStatus === 'timed_out') return 'failed';
  if (dbStatus === 'cancelled') return 'cancelled';
  return 'completed';
}

/** The dashboard page for an execution, when it has one. */
export function pageOf(e: PipelineExecution): string | null {
  const id = e.pipelineId ? encodeURIComponent(e.pipelineId) : null;
  switch (e.type) {
    case 'experimentBatch':
    case 'experimentRun':
      return id && `/experiments/${id}`;
    case 'simulationJob':
    case 'parameterSweep':
      return id && `/simulation/${id}`;
    case 'trainingQueue':
      return id && `/training?queue=${id}`;
    case 'conversationBatch':
    case 'conversationRun':
      return e.target && e.type === 'conversationRun' && e.pipelineId
        ? `/conversations/${encodeURIComponent(e.pipelineId)}/items/${encodeURIComponent(e.target)}`
        : e.target
          ? `/conversations/${encodeURIComponent(e.target)}`
          : null;
    default:
      return null;
  }
}

export function overviewRoutes(ctx: DashboardContext) {
  return new Hono().get('/', async (c) => {
    // A run that continued as new is superseded by its successor, which is listed on its own.
    const executions = (await listExecutions(ctx.client, { limit: 500 })).filter((e) => e.status !== 'CONTINUED_AS_NEW');
    const [states, throughput, pauses] = await Promise.all([
      pipelineStates(
        ctx.pool,
        executions.map((e) => e.workflowId),
      ),
      throughputPerHour(ctx.pool, 24),
      pausedTrainingJobs(ctx.pool),
    ]);
    const running = executions.filter((e) => e.status === 'RUNNING');
    const steps = await pendingSteps(ctx.client, running);
    const rows = executions.map((e) => ({
      ...e,
      state: stateOf(e.status, states.get(e.workflowId)?.status),
      link: webUiLink(ctx.uiUrl, ctx.namespace, e.workflowId, e.runId),
      page: pageOf(e),
    }));
    const counts: Record<string, Record<PipelineState, number>> = {};
    for (const r of rows) {
      counts[r.type] ??= { running: 0, completed: 0, 'partly failed': 0, failed: 0, cancelled: 0 };
      counts[r.type]![r.state]++;
    }
    return c.json({
      live: running.length > 0,
      counts,
      executions: rows.slice(0, 100),
      throughput,
      steps: steps.map((s) => ({ ...s, link: webUiLink(ctx.uiUrl, ctx.namespace, s.workflowId, s.runId) })),
      pauses: pauses.map((p) => ({ ...p, link: p.workflowId ? webUiLink(ctx.uiUrl, ctx.namespace, p.workflowId) : null })),
    });
  });
}
