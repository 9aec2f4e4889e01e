import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { execa } from 'execa';
import { inject } from 'vitest';
import { ensureTemporalCli } from '../scripts/lib/temporal-cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeBytes } from '../src/activities/step/disk-floor.js';
import { trainingRoot } from '../src/activities/training/checkpoints.js';
import { trainingQueueWorkflowId, type TrainingJob } from '../src/shared/training/schemas.js';
import {
  cancelCurrentUpdate,
  enqueueUpdate,
  pauseUpdate,
  removeUpdate,
  resumeUpdate,
  stopUpdate,
} from '../src/shared/training/messages.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { startWithTemporalCli } from './support/temporal-cli.js';
import { markedProcesses, waitFor } from './support/procs.js';
import { irisJob, longJob, startQueue, status, updateRefusal, waitStatus, type QueueHandle } from './support/training.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';
import { trainingQueue } from '../src/workflows/index.js';

const queueName = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;

describe('trainingQueue', () => {
  let w: TestWorker;
  let hook: WebhookReceiver;
  const handles: QueueHandle[] = [];

  beforeAll(async () => {
    hook = await startWebhookReceiver();
    w = await startTestWorker({ deps: { webhookUrl: hook.url } });
  });
  afterAll(async () => {
    for (const h of handles) await h.terminate().catch(() => undefined);
    await w?.stop();
    await hook?.close();
  });

  async function queue(prefix: string, over: Record<string, unknown> = {}) {
    const h = await startQueue(w.client, w.taskQueue, { queue: queueName(prefix), ...over });
    handles.push(h);
    return h;
  }

  /** Webhook texts about one queue (notifications are best effort and may trail the job). */
  const notifications = (queue: string) => hook.received.map((r) => String(r.body.text)).filter((t) => t.includes(`queue ${queue}`));

  const jobRows = async (queue: string) =>
    (
      await w.pool.query(
        'SELECT job_id, status, config, metrics, error, reason, warnings, best_checkpoint, attempt FROM training_jobs WHERE queue = $1 ORDER BY created_at',
        [queue],
      )
    ).rows;
  /** The rows once each job has the given status (a row is written just after the queue's state changes). */
  const rowsWhen = (queue: string, want: Record<string, string>) =>
    waitFor(
      async () => {
        const rows = await jobRows(queue);
        const got = Object.fromEntries(rows.map((r) => [r.job_id, r.status]));
        return Object.entries(want).every(([id, st]) => got[id] === st) ? rows : undefined;
      },
      `rows ${JSON.stringify(want)}`,
    );

  it('runs queued jobs in order: results with the effective config in PostgreSQL, one notification each, retention K + best', async () => {
    const h = await queue('basic');
    const name = (await status(h)).queue;
    const first = await h.executeUpdate(enqueueUpdate, {
      args: [irisJob('first', { steps: 300, checkpointInterval: 25, retention: { keepLast: 2 } })],
    });
    expect(first.position).toBe(1);
    // The caller sees what will run, defaults included.
    expect(first.effectiveConfig).toMatchObject({
      jobId: 'first',
      validation: { requiredEvery: 20, onMissing: 'fail' },
      retention: { keepLast: 2, keepBest: true },
      trainer: { command: 'node' },
    });
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('second', { steps: 100, seed: 9 })] });

    const s = await waitStatus(h, 'both jobs completed', (x) => x.counts.completed === 2);
    expect(s.recent.map((r) => [r.jobId, r.status, r.step])).toEqual([
      ['first', 'completed', 300],
      ['second', 'completed', 100],
    ]);
    expect(s.recent[0]!.valLoss).toBeGreaterThan(0);

    const rows = await rowsWhen(name, { first: 'completed', second: 'completed' });
    expect(rows.map((r) => [r.job_id, r.status])).toEqual([
      ['first', 'completed'],
      ['second', 'completed'],
    ]);
    expect(rows[0].config).toEqual(first.effectiveConfig as TrainingJob);
    expect(rows[0].metrics).toMatchObject({ step: 300, totalSteps: 300, rows: { train: 120, validation: 30 } });
    expect(rows[0].metrics.valLoss).toBeGreaterThan(0);
    expect(rows[0].best_checkpoint.valLoss).toBeGreaterThan(0);

    // 12 checkpoints were written; at most keepLast (2) + the best remain, and the manifest agrees.
    const dir = path.join(trainingRoot(w.deps.runsDir), name, 'first', first.instance);
    const files = readdirSync(path.join(dir, 'checkpoints'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.length).toBeLessThanOrEqual(3);
    expect(files).toContain('step-00000300.json');
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.checkpoints.map((c: { path: string }) => path.basename(c.path)).sort()).toEqual(files.sort());
    expect(rows[0].metrics.retained).toHaveLength(files.length);

    await waitFor(() => notifications(name).length >= 2, 'two webhook notifications');
    const texts = notifications(name);
    expect(texts[0]).toMatch(/Job first in queue .* completed at step 300\/300: train loss [\d.]+, val loss [\d.]+, gap -?[\d.]+/);
    expect(texts[1]).toMatch(/Job second .* completed at step 100\/100/);

    // One workflow per queue name: a second start under the derived ID is refused by Temporal.
    await expect(startQueue(w.client, w.taskQueue, { queue: name })).rejects.toThrow(/already started/i);
  });

  it('refuses a bad job to its caller, naming the field; nothing is queued', async () => {
    const h = await queue('refuse');
    const bad = await updateRefusal(h.executeUpdate(enqueueUpdate, { args: [{ ...irisJob('bad'), steps: 0, evalInterval: -1 }] }));
    expect(bad).toMatch(/job\.steps/);
    expect(bad).toMatch(/job\.evalInterval/);
    const missing = await updateRefusal(
      h.executeUpdate(enqueueUpdate, { args: [irisJob('missing', { dataset: 'examples/training/no-such.csv' })] }),
    );
    expect(missing).toMatch(/job\.dataset: examples\/training\/no-such\.csv does not exist/);
    const outside = await updateRefusal(h.executeUpdate(enqueueUpdate, { args: [irisJob('outside', { dataset: '../etc/passwd' })] }));
    expect(outside).toMatch(/job\.dataset/);
    const noProgram = await updateRefusal(
      h.executeUpdate(enqueueUpdate, { args: [irisJob('noprog', { trainer: { command: 'no-such-trainer-binary' } })] }),
    );
    expect(noProgram).toMatch(/job\.trainer\.command: command not found/);

    await h.executeUpdate(pauseUpdate, { args: [undefined] });
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('dup')] });
    expect(await updateRefusal(h.executeUpdate(enqueueUpdate, { args: [irisJob('dup')] }))).toMatch(/jobId: dup is already queued/);
    expect(await updateRefusal(h.executeUpdate(removeUpdate, { args: ['nope'] }))).toMatch(/jobId: no pending job nope .*pending: dup/);
    expect(await updateRefusal(h.executeUpdate(cancelCurrentUpdate, { args: [] }))).toMatch(/no job is running/);
    expect(await updateRefusal(h.executeUpdate(pauseUpdate, { args: [undefined] }))).toMatch(/already paused/);

    const s = await status(h);
    expect(s.pending.map((p) => p.jobId)).toEqual(['dup']);
    // Validator rejections leave no trace in the history; only accepted updates do.
    const history = await h.fetchHistory();
    const accepted = (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
    // pause, enqueue(dup), and the two enqueues that passed the validator but failed their path check
    expect(accepted).toBe(4);
  });

  it('pause stops the trainer at a checkpoint and resume continues from it; remove, cancelCurrent and stop do what they say', async () => {
    const marker = randomUUID();
    const h = await queue('control');
    const name = (await status(h)).queue;
    const long = await h.executeUpdate(enqueueUpdate, {
      args: [longJob('long', marker, { checkpointInterval: 40, retention: { keepLast: 2 } })],
    });
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('removed-one')] });
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('after', { steps: 60 })] });

    const running = await waitStatus(h, 'a checkpoint of the long job', (s) => (s.current?.progress?.lastCheckpoint?.step ?? 0) >= 80);
    expect(running.stage).toBe('training');
    expect(running.current!.progress!.totalSteps).toBe(10_000_000);
    expect(running.current!.progress!.etaSeconds).toBeGreaterThan(0);
    expect(Date.parse(running.current!.progress!.lastHeartbeatAt)).toBeGreaterThan(0);
    expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).not.toEqual([]);
    // What runs is readable from the Web UI: the memo holds the running job's effective config.
    expect((await (await h.describe()).memo)?.currentJob).toEqual(long.effectiveConfig);
    expect(running.current!.config).toEqual(long.effectiveConfig);

    const paused = await h.executeUpdate(pauseUpdate, { args: [{ reason: 'GPU needed for a demo' }] });
    expect(paused.stage).toBe('paused');
    const requeued = await waitStatus(h, 'the long job back at the head of the queue', (s) => s.current === null);
    expect(requeued.pauseReason).toBe('GPU needed for a demo');
    expect(requeued.pending.map((p) => p.jobId)).toEqual(['long', 'removed-one', 'after']);
    const resumeStep = requeued.pending[0]!.resumeFrom!.step;
    expect(resumeStep).toBeGreaterThanOrEqual(80);
    // Paused means paused: no trainer is left running.
    expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).toEqual([]);
    expect((await rowsWhen(name, { long: 'paused' }))[0]).toMatchObject({
      job_id: 'long',
      status: 'paused',
      reason: 'GPU needed for a demo',
    });

    const afterRemove = await h.executeUpdate(removeUpdate, { args: ['removed-one'] });
    expect(afterRemove.pending.map((p) => p.jobId)).toEqual(['long', 'after']);

    await h.executeUpdate(resumeUpdate, { args: [] });
    // The step count continues from the checkpoint instead of starting over.
    const resumed = await waitStatus(
      h,
      'the long job running again',
      (s) => s.current?.jobId === 'long' && (s.current.progress?.step ?? 0) > resumeStep,
    );
    expect(resumed.current!.progress!.startStep).toBe(resumeStep);

    await h.executeUpdate(cancelCurrentUpdate, { args: [] });
    const afterCancel = await waitStatus(h, 'the next job done', (s) => s.counts.completed === 1);
    expect(afterCancel.recent.map((r) => [r.jobId, r.status])).toEqual([
      ['removed-one', 'removed'],
      ['long', 'cancelled'],
      ['after', 'completed'],
    ]);
    expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).toEqual([]);

    // stop: the current job finishes, what is still queued is handed back, the workflow ends.
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('last', { steps: 1000, params: { stepDelayMs: 2 } })] });
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('never')] });
    await waitStatus(h, 'the last job running', (s) => s.current?.jobId === 'last');
    await h.executeUpdate(stopUpdate, { args: [] });
    expect(await updateRefusal(h.executeUpdate(enqueueUpdate, { args: [irisJob('too-late')] }))).toMatch(/stopping/);
    const result = await h.result();
    expect(result.status).toBe('stopped');
    expect(result.recent.at(-1)).toMatchObject({ jobId: 'last', status: 'completed', step: 1000 });
    expect(result.notRun.map((j) => j.jobId)).toEqual(['never']);
    const rows = await jobRows(name);
    expect(Object.fromEntries(rows.map((r) => [r.job_id, r.status]))).toEqual({
      long: 'cancelled',
      'removed-one': 'removed',
      after: 'completed',
      last: 'completed',
    });
    // Updates, progress signals, cancellations: the whole history replays deterministically.
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, await h.fetchHistory(), h.workflowId);
  });

  it('the disk floor pauses the queue with the reason in the query, the search attributes and the memo', async () => {
    const h = await queue('disk', { minFreeDiskBytes: Number.MAX_SAFE_INTEGER });
    const name = (await status(h)).queue;
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('big')] });
    const s = await waitStatus(h, 'the queue paused by the disk floor', (x) => x.paused);
    expect(s.pauseReason).toMatch(/free disk .* is under the floor of 8\.0 PiB/);
    expect(s.pending.map((p) => p.jobId)).toEqual(['big']);
    expect(s.current).toBeNull();
    const d = await waitFor(async () => {
      const desc = await h.describe();
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the record view still shows what the workflows' record-form upserts wrote
      return desc.searchAttributes.Stage?.[0] === 'paused' ? desc : undefined;
    }, 'Stage=paused');
    expect((await d.memo)?.pauseReason).toMatch(/under the floor/);
    await waitFor(() => notifications(name).some((t) => t.includes(`queue ${name} paused`)), 'a notification about the pause');
    expect((await rowsWhen(name, { big: 'paused' }))[0].reason).toMatch(/under the floor/);

    // A job may carry its own floor; with the oversized job removed, the queue runs again.
    await h.executeUpdate(removeUpdate, { args: [{ jobId: 'big' }] });
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('small', { minFreeDiskBytes: 0 })] });
    await h.executeUpdate(resumeUpdate, { args: [] });
    await waitStatus(h, 'the small job completed', (x) => x.counts.completed === 1);
  });

  it('free disk falling under the floor mid-training stops the job at a checkpoint and pauses the queue; resume continues from it', async () => {
    // A floor 256 MiB under today's free space, then 768 MiB of real ballast on the same
    // filesystem once the job has saved checkpoints: the floor is crossed while the trainer runs.
    // (Small enough for a nearly full CI disk, large enough that other writers cannot fake it.)
    const root = trainingRoot(w.deps.runsDir);
    mkdirSync(root, { recursive: true });
    const floor = (await freeBytes(root)) - 256 * 1024 ** 2;
    const ballast = path.join(w.deps.runsDir, `ballast-${randomUUID().slice(0, 8)}`);
    const marker = randomUUID();
    const h = await queue('disk-mid');
    const name = (await status(h)).queue;
    try {
      await h.executeUpdate(enqueueUpdate, { args: [longJob('grow', marker, { minFreeDiskBytes: floor, checkpointInterval: 50 })] });
      await waitStatus(h, 'the job past its first checkpoints', (s) => (s.current?.progress?.lastCheckpoint?.step ?? 0) >= 100);
      const fill = await execa('fallocate', ['-l', String(768 * 1024 ** 2), ballast], { reject: false });
      expect(fill.exitCode, fill.stderr).toBe(0);

      const s = await waitStatus(h, 'the queue paused by the disk floor mid-training', (x) => x.paused && x.current === null);
      expect(s.pauseReason).toMatch(/free disk .* is under the floor of/);
      expect(s.pending.map((p) => p.jobId)).toEqual(['grow']);
      const stoppedAt = s.pending[0]!.resumeFrom!;
      expect(stoppedAt.step).toBeGreaterThanOrEqual(100);
      expect(markedProcesses('SHEPHERD_TEST_MARKER', marker)).toEqual([]);
      expect((await rowsWhen(name, { grow: 'paused' }))[0].reason).toMatch(/under the floor/);
      await waitFor(
        () => notifications(name).some((t) => t.includes(`stopped at step`) && t.includes('under the floor')),
        'a notification about the pause',
      );

      // Space freed: resume continues from the checkpoint the floor stopped at, not from step 0.
      rmSync(ballast, { force: true });
      await h.executeUpdate(resumeUpdate, { args: [] });
      const again = await waitStatus(
        h,
        'the job running again',
        (x) => x.current?.jobId === 'grow' && (x.current.progress?.step ?? 0) > stoppedAt.step,
      );
      expect(again.current!.progress!.startStep).toBe(stoppedAt.step);
      await h.executeUpdate(cancelCurrentUpdate, { args: [] });
      await waitStatus(h, 'the job cancelled', (x) => x.current === null);
    } finally {
      rmSync(ballast, { force: true });
    }
  });

  it('missing validation fails the job or warns, by config, with the reason', async () => {
    const h = await queue('validation');
    const name = (await status(h)).queue;
    // 0.001 of 150 rows leaves an empty validation split: the trainer says so, val_loss null.
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('strict', { validationFraction: 0.001 })] });
    await h.executeUpdate(enqueueUpdate, { args: [irisJob('lenient', { validationFraction: 0.001, validation: { onMissing: 'warn' } })] });
    const s = await waitStatus(h, 'both jobs finished', (x) => x.recent.length === 2);
    const [strict, lenient] = s.recent;
    expect(strict).toMatchObject({ jobId: 'strict', status: 'failed' });
    expect(strict!.error).toMatch(
      /no validation loss since this attempt started at step 0 .*required every 20 steps.*validation set is empty/,
    );
    expect(lenient).toMatchObject({ jobId: 'lenient', status: 'completed', valLoss: null });
    expect(lenient!.warnings.join('\n')).toMatch(/validation missing: .*validation set is empty/);
    const rows = await rowsWhen(name, { strict: 'failed', lenient: 'completed' });
    expect(rows[0]).toMatchObject({ status: 'failed', attempt: 1 }); // non-retryable: not tried again
    expect(rows[0].error).toMatch(/validation set is empty/);
    expect(rows[1].warnings.length).toBeGreaterThan(0);
    await waitFor(() => notifications(name).length >= 2, 'two notifications');
    expect(notifications(name)[0]).toMatch(/strict .* failed .*Error: .*no validation loss/);
  });

  it('continues as new with the pending queue and the paused state intact', async () => {
    const h = await queue('can', { maxHistoryEvents: 50 });
    const firstRun = (await h.describe()).runId;
    await h.executeUpdate(pauseUpdate, { args: [{ reason: 'filling the queue' }] });
    const ids: string[] = [];
    const instances = new Map<string, string>();
    for (let i = 0; (await h.describe()).runId === firstRun; i++) {
      if (i > 30) throw new Error('history never reached maxHistoryEvents');
      const r = await h.executeUpdate(enqueueUpdate, { args: [irisJob(`j${i}`, { steps: 40 })] });
      ids.push(r.jobId);
      instances.set(r.jobId, r.instance);
    }
    const s = await status(h);
    expect(s.run).toBe(2);
    expect(s.paused).toBe(true);
    expect(s.pauseReason).toBe('filling the queue');
    expect(s.pending.map((p) => p.jobId)).toEqual(ids);
    await h.executeUpdate(resumeUpdate, { args: [] });
    const done = await waitStatus(h, 'every carried job completed', (x) => x.counts.completed === ids.length, 120_000);
    expect(done.recent.every((r) => r.status === 'completed' && instances.get(r.jobId) === r.instance)).toBe(true);
    const firstHistory = await w.client.workflow.getHandle(h.workflowId, firstRun).fetchHistory();
    expect(firstHistory.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, firstHistory, h.workflowId);
  });

  it('is driven by the temporal CLI exactly as the example README shows', async () => {
    const temporal = await ensureTemporalCli();
    const cli = (...args: string[]) => execa(temporal, [...args, '--address', inject('temporalAddress')], { reject: false });
    const id = trainingQueueWorkflowId('default');
    const started = await startWithTemporalCli({
      type: 'trainingQueue',
      taskQueue: w.taskQueue,
      workflowId: id,
      args: ['--input-file', 'examples/training/queue.json'],
      reject: false,
    });
    expect(started.exitCode, started.stderr).toBe(0);
    handles.push(w.client.workflow.getHandle(id));

    const bad = await cli(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      id,
      '--name',
      'enqueue',
      '--input-file',
      'examples/training/jobs/bad-job.json',
    );
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr + bad.stdout).toMatch(/job\.jobId.*job\.dataset.*job\.steps.*save_total_limit.*job\.validation\.requiredEvery/s);

    const ok = await cli(
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      id,
      '--name',
      'enqueue',
      '--input-file',
      'examples/training/jobs/iris-mlp.json',
      '-o',
      'json',
    );
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('iris-mlp-h8');

    const q = await waitFor(async () => {
      const r = await cli('workflow', 'query', '--workflow-id', id, '--name', 'status', '-o', 'json');
      return r.exitCode === 0 && /"lastHeartbeatAt"/.test(r.stdout) ? r.stdout : undefined;
    }, 'progress in the status query');
    expect(q).toMatch(/"jobId": ?"iris-mlp-h8"/);
    expect(q).toMatch(/"totalSteps": ?3000/);

    const cancel = await cli('workflow', 'update', 'execute', '--workflow-id', id, '--name', 'cancelCurrent');
    expect(cancel.exitCode, cancel.stderr).toBe(0);
    const stop = await cli('workflow', 'update', 'execute', '--workflow-id', id, '--name', 'stop');
    expect(stop.exitCode, stop.stderr).toBe(0);
    const result = await w.client.workflow.getHandle(id).result();
    expect(result.recent.map((r: { jobId: string; status: string }) => [r.jobId, r.status])).toEqual([['iris-mlp-h8', 'cancelled']]);
  });

  it('refuses to run under an ID not derived from the queue name', async () => {
    const h = await w.client.workflow.start(trainingQueue, {
      taskQueue: w.taskQueue,
      workflowId: `wrong-${randomUUID()}`,
      args: [{ queue: 'named' }],
    });
    const err = await h.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toContain(
      `workflowId: training queue "named" must run as workflow ID "${trainingQueueWorkflowId('named')}"`,
    );
  });
});
