import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { executeStep } from '../src/activities/step/execute-step.js';
import { ensureWorkspaceCleanupSchedule } from '../src/client/schedules.js';
import { startExperimentBatch } from '../src/client/experiments.js';
import { experimentRunWorkflowId } from '../src/shared/experiments/workflow-ids.js';
import { EXIT } from '../src/shared/exit-codes.js';
import { retentionPolicySchema, type WorkspaceCleanupInput, type WorkspaceCleanupReport } from '../src/shared/hygiene/schemas.js';
import { startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';
import { waitFor } from './support/procs.js';

// Workspace retention against real trees on disk, real workflow runs (their outcome is what
// Temporal says), real step processes, through a real worker running the workspaceCleanup
// workflow. Each test starts from an empty runs dir: a cleanup applies to all of it.

let w: TestWorker;
const uid = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
const DAY = 86_400_000;

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(() => w?.stop());
beforeEach(() => rmSync(w.deps.runsDir, { recursive: true, force: true }));

/** A real closed run under `workflowId`: conversationMetrics completes, experimentRun({}) fails. */
async function closedRun(workflowId: string, ok: boolean): Promise<string> {
  const handle = ok
    ? await w.client.workflow.start('conversationMetrics', { workflowId, taskQueue: w.taskQueue, args: [{ days: 1 }] })
    : await w.client.workflow.start('experimentRun', { workflowId, taskQueue: w.taskQueue, args: [{}] });
  await handle.result().catch(() => undefined);
  return handle.firstExecutionRunId;
}

/** A run's workspace tree as workspace.ts lays it out, with `bytes` of output; optionally aged. */
function tree(workflowId: string, runId: string, bytes = 64 * 1024, ageMs?: number): string {
  const runDir = path.join(w.deps.runsDir, encodeURIComponent(workflowId), runId);
  const attempt = path.join(runDir, '1', '1');
  mkdirSync(attempt, { recursive: true });
  writeFileSync(path.join(attempt, 'output.bin'), Buffer.alloc(bytes, 7));
  writeFileSync(path.join(attempt, 'stdout.log'), 'log\n');
  if (ageMs !== undefined) {
    const t = new Date(Date.now() - ageMs);
    for (const p of [path.join(attempt, 'output.bin'), path.join(attempt, 'stdout.log'), attempt, path.dirname(attempt), runDir])
      utimesSync(p, t, t);
  }
  return runDir;
}

let lastCleanupId = '';
async function clean(dryRun: boolean, policy: Record<string, unknown>): Promise<WorkspaceCleanupReport> {
  const input: WorkspaceCleanupInput = { dryRun, policy: retentionPolicySchema.parse(policy) };
  lastCleanupId = uid('cleanup');
  return w.client.workflow.execute('workspaceCleanup', { workflowId: lastCleanupId, taskQueue: w.taskQueue, args: [input] });
}

/** SHEPHERD_RECORD_HISTORIES=1: the last cleanup's history becomes test/histories/<name>.json (replayed by replay.test.ts). */
async function recordHistory(name: string): Promise<void> {
  if (process.env.SHEPHERD_RECORD_HISTORIES !== '1') return;
  const history = await w.client.workflow.getHandle(lastCleanupId).fetchHistory();
  writeFileSync(path.join('test/histories', `${name}.json`), historyToJSON(history));
}

const BIG = { last: 1000, maxAge: '3650d' };

describe('workspace retention', () => {
  it('keeps the last K runs per workflow, failures longer than successes; a dry run removes nothing', async () => {
    const wf = uid('retention');
    const other = uid('retention-other');
    const runs: { runId: string; ok: boolean; dir: string }[] = [];
    // Interleaved, oldest first: s f s f s f s f s (5 succeeded, 4 failed).
    for (let i = 0; i < 9; i++) {
      const ok = i % 2 === 0;
      const runId = await closedRun(wf, ok);
      runs.push({ runId, ok, dir: tree(wf, runId) });
    }
    const otherRun = await closedRun(other, true);
    const otherDir = tree(other, otherRun);
    const policy = { succeeded: { last: 2, maxAge: '30d' }, failed: { last: 3, maxAge: '30d' }, maxTotalSize: '100GiB' };

    const dry = await clean(true, policy);
    expect(dry.dryRun).toBe(true);
    expect(dry.scannedRuns).toBe(10);
    expect(dry.removedRuns).toBe(4); // 3 oldest succeeded + 1 oldest failed
    for (const r of runs) expect(existsSync(r.dir), 'dry run removed nothing').toBe(true);

    const report = await clean(false, policy);
    const succeeded = runs.filter((r) => r.ok);
    const failed = runs.filter((r) => !r.ok);
    const expectRemoved = [...succeeded.slice(0, 3), ...failed.slice(0, 1)];
    expect(report.removed.map((r) => r.runId).sort()).toEqual(expectRemoved.map((r) => r.runId).sort());
    for (const r of runs) expect(existsSync(r.dir), `${r.ok ? 'succeeded' : 'failed'} run ${r.runId}`).toBe(!expectRemoved.includes(r));
    expect(existsSync(otherDir), 'another workflow keeps its own last K').toBe(true);
    expect(report.freedBytes).toBeGreaterThanOrEqual(4 * 64 * 1024);
    expect(report.removed.find((r) => r.class === 'succeeded')?.reason).toMatch(/beyond the last 2 succeeded/);
    expect(report.removed.find((r) => r.class === 'failed')?.reason).toMatch(/beyond the last 3 failed/);
    expect(report.removed.every((r) => ['COMPLETED', 'FAILED'].includes(r.status))).toBe(true);
    expect(report.kept.find((r) => r.runId === otherRun)?.reason).toMatch(/last 2 succeeded/);
    // The outcome is cached beside the kept runs: later cleanups need no lookup, even once Temporal's history is gone.
    expect(JSON.parse(readFileSync(path.join(otherDir, '.shepherd-outcome.json'), 'utf8')).status).toBe('COMPLETED');
    await recordHistory('workspace-cleanup-recorded');
  });

  it('honours the max age per class: old successes go, failures of the same age stay', async () => {
    const wf = uid('age');
    const ok = await closedRun(wf, true);
    const bad = await closedRun(wf, false);
    const okDir = tree(wf, ok);
    const badDir = tree(wf, bad);
    // Runs Temporal knows nothing of (history gone): outcome unknown, kept as long as failures, aged by their files.
    const ghost = uid('ghost');
    const old = tree(ghost, randomUUID(), 1024, 40 * DAY);
    const recent = tree(ghost, randomUUID(), 1024, 2 * DAY);

    const report = await clean(false, {
      succeeded: { last: 10, maxAge: '1ms' },
      failed: { last: 10, maxAge: '30d' },
      maxTotalSize: '100GiB',
    });
    expect(existsSync(okDir), 'succeeded, over 1ms').toBe(false);
    expect(existsSync(badDir), 'failed, within 30d').toBe(true);
    expect(existsSync(old), 'unknown outcome, 40 days old').toBe(false);
    expect(existsSync(recent), 'unknown outcome, 2 days old').toBe(true);
    expect(report.removed.find((r) => r.runId === ok)?.reason).toMatch(/over the max age/);
    expect(report.removed.find((r) => r.workflowId === ghost)?.status).toBe('UNKNOWN');
  });

  it('honours the max total size: the oldest successes go first, failures after', async () => {
    const ids = [uid('size-a'), uid('size-b'), uid('size-c'), uid('size-d')];
    // The oldest is a failure; then three successes.
    const runs = [];
    for (const [i, id] of ids.entries()) {
      const runId = await closedRun(id, i !== 0);
      runs.push({ id, runId, dir: tree(id, runId, 256 * 1024) });
    }
    const sizes = await clean(true, { succeeded: BIG, failed: BIG, maxTotalSize: '100GiB' });
    const bytes = (runId: string) => sizes.kept.find((r) => r.runId === runId)!.bytes;
    const total = sizes.keptBytes;
    // Room for everything but the oldest success.
    const report = await clean(false, { succeeded: BIG, failed: BIG, maxTotalSize: total - bytes(runs[1]!.runId) });
    expect(report.removed.map((r) => r.runId)).toEqual([runs[1]!.runId]);
    expect(report.removed[0]!.reason).toMatch(/total size limit/);
    expect(existsSync(runs[0]!.dir), 'the older failure stays while a success can go').toBe(true);
    expect(existsSync(runs[2]!.dir) && existsSync(runs[3]!.dir)).toBe(true);
    expect(report.keptBytes).toBeLessThanOrEqual(total - bytes(runs[1]!.runId));
  });

  it('never removes the workspace of a running workflow, nor a tree a step process is running in', async () => {
    const release = path.join(tempDir('release'), 'go');
    const batchId = uid('running');
    const program = `const p = ${JSON.stringify(release)}; const t = setInterval(() => { if (fs.existsSync(p)) { clearInterval(t); done({ ok: 1 }); } }, 50);`;
    const batch = await startExperimentBatch(
      w.client,
      { batchId, experiments: [nodeExperiment('slow', program)], notify: false },
      { taskQueue: w.taskQueue },
    );
    const runDir = path.join(w.deps.runsDir, encodeURIComponent(experimentRunWorkflowId(batchId, 'slow')));
    await waitFor(() => existsSync(runDir) && readdirSync(runDir).length > 0, 'the experiment workspace');

    // A tree Temporal knows nothing of, with a real step process (recorded in the step registry) running in it.
    const ghost = uid('ghost-step');
    const ghostRun = tree(ghost, randomUUID(), 1024, 400 * DAY);
    const stepWorkspace = path.join(ghostRun, 'step', '1');
    mkdirSync(stepWorkspace, { recursive: true });
    const step = executeStep(
      {
        command: process.execPath,
        args: [
          '-e',
          `const fs = require('node:fs'); const t = setInterval(() => fs.existsSync(${JSON.stringify(release)}) && clearInterval(t), 50);`,
        ],
      },
      { workspace: stepWorkspace, procDir: w.deps.procDir },
    );
    const recorded = () =>
      existsSync(w.deps.procDir) &&
      readdirSync(w.deps.procDir).some(
        (f) => f.endsWith('.json') && readFileSync(path.join(w.deps.procDir, f), 'utf8').includes(stepWorkspace),
      );
    await waitFor(recorded, 'the step record');

    const nothing = { last: 0, maxAge: '1ms' };
    const report = await clean(false, { succeeded: nothing, failed: nothing, maxTotalSize: 0 });
    expect(existsSync(runDir) && readdirSync(runDir).length > 0, 'running experiment kept').toBe(true);
    expect(existsSync(stepWorkspace), 'tree with a running step kept').toBe(true);
    expect(report.kept.find((r) => r.workflowId === experimentRunWorkflowId(batchId, 'slow'))?.reason).toBe('running');
    expect(report.kept.find((r) => r.workflowId === ghost)?.reason).toMatch(/step is still running/);
    expect(report.removedRuns).toBe(0);

    writeFileSync(release, '');
    await step;
    await batch.result();
    const after = await clean(false, { succeeded: nothing, failed: nothing, maxTotalSize: 0 });
    expect(existsSync(ghostRun), 'removed once its step ended').toBe(false);
    expect(existsSync(runDir), 'removed once the workflow closed').toBe(false);
    expect(after.keptRuns).toBe(0);
  });
});

describe('the workspace cleanup Schedule and CLI', () => {
  it('the Schedule is created idempotently and its run removes what the policy no longer keeps, with a report', async () => {
    const scheduleId = uid('test-workspace-cleanup');
    const ghost = uid('sched-ghost');
    const old = tree(ghost, randomUUID(), 4096, 40 * DAY);
    const fresh = tree(ghost, randomUUID(), 4096, 1 * DAY);
    const policy = retentionPolicySchema.parse({}); // the defaults: failures (and unknowns) 30 days
    try {
      expect(await ensureWorkspaceCleanupSchedule(w.client, { taskQueue: w.taskQueue, scheduleId, every: '1h', policy })).toBe('created');
      expect(await ensureWorkspaceCleanupSchedule(w.client, { taskQueue: w.taskQueue, scheduleId, every: '1h', policy })).toBe('updated');
      const handle = w.client.schedule.getHandle(scheduleId);
      await handle.trigger();
      const action = await waitFor(async () => (await handle.describe()).info.recentActions[0]?.action, 'the triggered run');
      const report = (await w.client.workflow.getHandle(action.workflow.workflowId).result()) as WorkspaceCleanupReport;
      expect(report.dryRun).toBe(false);
      expect(report.removedRuns).toBe(1);
      expect(report.removed[0]!.reason).toMatch(/over the max age of 30d|over the max age/);
      expect(existsSync(old)).toBe(false);
      expect(existsSync(fresh)).toBe(true);
      expect(report.disk.freeBytes).toBeGreaterThan(0);
      expect(await ensureWorkspaceCleanupSchedule(w.client, { taskQueue: w.taskQueue, scheduleId, every: '0', policy })).toBe('deleted');
    } finally {
      await w.client.schedule
        .getHandle(scheduleId)
        .delete()
        .catch(() => undefined);
    }
  });

  it('shepherd workspaces clean --dry-run --json reports and removes nothing; a bad variable exits 2 naming it', async () => {
    const ghost = uid('cli-ghost');
    const old = tree(ghost, randomUUID(), 4096, 40 * DAY);
    const cli = (env: Record<string, string>) =>
      execa(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          '--address',
          inject('temporalAddress'),
          '--task-queue',
          w.taskQueue,
          'workspaces',
          'clean',
          '--dry-run',
          '--json',
        ],
        {
          reject: false,
          env,
          timeout: 110_000,
        },
      );
    const ok = await cli({ SHEPHERD_WORKSPACE_KEEP_FAILED: '5' });
    expect(ok.exitCode, ok.stderr).toBe(EXIT.ok);
    const report = JSON.parse(ok.stdout) as WorkspaceCleanupReport;
    expect(report.dryRun).toBe(true);
    expect(report.removed.map((r) => r.workflowId)).toEqual([ghost]);
    expect(existsSync(old)).toBe(true);
    const bad = await cli({ SHEPHERD_WORKSPACE_MAX_AGE_FAILED: 'a month' });
    expect(bad.exitCode).toBe(EXIT.badInput);
    expect(bad.stderr).toMatch(/SHEPHERD_WORKSPACE_MAX_AGE_FAILED/);
  });
});
