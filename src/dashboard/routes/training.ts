import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Hono, type Context } from 'hono';
import { jobDirs, readManifest, trainingRoot } from '../../storage/training-layout.js';
import { listTrainingJobs, type TrainingJobRow } from '../../db/dashboard/training-jobs.js';
import { trainingSamples } from '../../db/dashboard/training-samples.js';
import { pauseUpdate, resumeUpdate, statusQuery } from '../../shared/training/messages.js';
import { trainingQueueWorkflowId } from '../../shared/training/schemas.js';
import type { QueueStatus } from '../../shared/training/queue-state.js';
import type { DashboardContext } from '../context.js';
import { listExecutions, webUiLink } from '../temporal.js';

// Training: each queue's status (its query: current job with live progress, queued jobs, pause
// and reason), the jobs' rows, one job's loss curves from training_samples, its kept checkpoints
// and their disk use, and, only when enabled, pause / resume through the queue's own validated
// updates (a refused update's message goes back to the page unchanged).

async function queueStatuses(client: Client): Promise<{ queue: string; workflowId: string; status: QueueStatus | null; error?: string }[]> {
  const running = await listExecutions(client, { query: `WorkflowType = 'trainingQueue' AND ExecutionStatus = 'Running'`, limit: 50 });
  return Promise.all(
    running.map(async (e) => {
      const queue = e.pipelineId ?? e.workflowId;
      try {
        return { queue, workflowId: e.workflowId, status: await client.workflow.getHandle(e.workflowId).query(statusQuery) };
      } catch (err) {
        return { queue, workflowId: e.workflowId, status: null, error: (err as Error).message };
      }
    }),
  );
}

async function checkpointsOf(runsDir: string | undefined, job: TrainingJobRow) {
  if (!runsDir) return null;
  const dirs = jobDirs(trainingRoot(runsDir), job.queue, job.jobId, job.instance);
  const manifest = await readManifest(dirs.manifest).catch(() => null);
  if (!manifest) return null;
  const kept = await Promise.all(
    manifest.checkpoints.map(async (c) => {
      const bytes = await stat(path.resolve(dirs.checkpoints, c.path)).then(
        (s) => s.size,
        () => null,
      );
      return { step: c.step, valLoss: c.valLoss ?? null, file: path.basename(c.path), bytes };
    }),
  );
  // Retention keeps the last K and the best by val loss; say which is which.
  const latest = Math.max(...kept.map((k) => k.step));
  const withVal = kept.filter((k) => k.valLoss !== null);
  const best = withVal.length ? withVal.reduce((a, b) => (b.valLoss! < a.valLoss! ? b : a)).step : null;
  const role = (step: number) => [step === latest ? 'latest' : null, step === best ? 'best' : null].filter(Boolean).join(', ') || 'last K';
  return { kept: kept.map((k) => ({ ...k, role: role(k.step) })), totalBytes: kept.reduce((n, k) => n + (k.bytes ?? 0), 0) };
}

export function trainingRoutes(ctx: DashboardContext) {
  const control = (update: typeof pauseUpdate | typeof resumeUpdate) => async (c: Context) => {
    if (!ctx.controls.training)
      return c.json({ error: 'control actions are disabled (start the dashboard with --allow-control training)' }, 403);
    // A custom header cannot be sent cross-site without a CORS preflight, which is never granted.
    if (c.req.header('x-shepherd-control') !== '1') return c.json({ error: 'missing X-Shepherd-Control header' }, 400);
    const queue = c.req.param('queue')!;
    const handle = ctx.client.workflow.getHandle(trainingQueueWorkflowId(queue));
    try {
      const status =
        update === pauseUpdate
          ? await handle.executeUpdate(pauseUpdate, { args: [{ reason: 'paused from the dashboard' }] })
          : await handle.executeUpdate(resumeUpdate, { args: [] });
      return c.json({ status });
    } catch (err) {
      const e = err as Error & { cause?: Error };
      return c.json({ error: e.cause?.message ?? e.message }, 409);
    }
  };

  return new Hono()
    .get('/', async (c) => {
      const queue = c.req.query('queue');
      const [queues, jobs] = await Promise.all([queueStatuses(ctx.client), listTrainingJobs(ctx.pool, { queue })]);
      const shown = queue ? queues.filter((q) => q.queue === queue) : queues;
      return c.json({
        live: shown.length > 0,
        controls: ctx.controls.training,
        queues: shown.map((q) => ({ ...q, link: webUiLink(ctx.uiUrl, ctx.namespace, q.workflowId) })),
        jobs,
      });
    })
    .post('/queues/:queue/pause', control(pauseUpdate))
    .post('/queues/:queue/resume', control(resumeUpdate))
    .get('/:instance', async (c) => {
      const instance = c.req.param('instance');
      const [job] = await listTrainingJobs(ctx.pool, { instance, limit: 1 });
      if (!job) return c.json({ error: `no training job ${instance}` }, 404);
      const [samples, checkpoints, queues] = await Promise.all([
        trainingSamples(ctx.pool, instance),
        checkpointsOf(ctx.runsDir, job),
        job.status === 'running' ? queueStatuses(ctx.client) : Promise.resolve([]),
      ]);
      const progress = queues.find((q) => q.status?.current?.instance === instance)?.status?.current?.progress ?? null;
      return c.json({
        live: job.status === 'running',
        job: { ...job, link: job.workflowId ? webUiLink(ctx.uiUrl, ctx.namespace, job.workflowId) : null },
        progress,
        samples,
        checkpoints,
      });
    });
}
