import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAttempts } from '../src/db/conversations/attempts.js';
import { stepMetrics } from '../src/db/conversations/step-metrics.js';
import { jobDirs, trainingRoot } from '../src/activities/training/checkpoints.js';
import { startConversationBatch } from '../src/client/conversations.js';
import { startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { durationToMs } from '../src/shared/conversations/schemas.js';
import type { ConversationBatchResult } from '../src/shared/conversations/schemas.js';
import { exportResults } from '../src/db/experiments/export.js';
import { serveDashboard, type DashboardServer } from '../src/dashboard/server.js';
import { enqueueUpdate, stopUpdate } from '../src/workflows/training/training-queue.js';
import { launchBrowser, rows, shown, type Browser, type GuardedPage } from './support/browser.js';
import { loadExample, startConversationStack, withModels, type ConversationStack } from './support/conversations.js';
import { iris, nodeExperiment } from './support/experiments.js';
import { waitFor } from './support/procs.js';
import { runSimulation, shJob, writeReplicateScript } from './support/simulation.js';
import { irisJob, startQueue, status, waitStatus, type QueueHandle } from './support/training.js';

// The dashboard in headless Chromium against real pipelines run here by the real worker:
// experiment batches, a simulation job, a training queue (one finished job, one running), a
// conversation batch on the fake model server. Each view's numbers are compared with the
// database's, a running job's loss curve must grow without a reload, and no page may log a
// console error, request anything beyond 127.0.0.1, or show a secret.

const SECRET = `sekrit-${randomUUID()}`;
// The README's pictures are refreshed on purpose (SHEPHERD_UPDATE_SCREENSHOTS=1); an ordinary
// run saves its screenshots to a temporary directory, so tests leave the checkout clean.
const SCREENSHOTS =
  process.env.SHEPHERD_UPDATE_SCREENSHOTS === '1'
    ? path.resolve('docs/screenshots')
    : mkdtempSync(path.join(os.tmpdir(), 'shepherd-screenshots-'));
const tag = randomUUID().slice(0, 6);

let stack: ConversationStack;
let dashboard: DashboardServer;
let browser: Browser;
let queue: QueueHandle;
const queueName = `dash-${tag}`;
const batchA = `dash-a-${tag}`;
const batchB = `dash-b-${tag}`;
const simJob = `dash-sim-${tag}`;
let convDefinition: string;
let convResult: ConversationBatchResult;
let shortInstance: string;
let longInstance: string;
const pages: GuardedPage[] = [];

const withSeed = <T extends { args: string[] }>(e: T, seed: string): T => ({ ...e, args: e.args.map((a) => (a === '42' ? seed : a)) });
const experiments = (batchId: string, seed: string) => ({
  batchId,
  maxConcurrency: 2,
  retry: { maximumAttempts: 1 },
  experiments: [
    withSeed(iris('knn', 'knn', ['--k', '3']), seed),
    withSeed(iris('tree', 'decision-tree'), seed),
    nodeExperiment('crash', `console.error('fatal: out of cheese at line 7'); process.exit(3);`),
  ],
});

async function open(urlPath: string): Promise<GuardedPage> {
  const g = await browser.newPage();
  pages.push(g);
  await g.page.goto(`${dashboard.url}${urlPath}`);
  await g.page.waitForSelector('#live:not(:empty)');
  return g;
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await startConversationStack({
    models: {
      'qwen2.5:7b': { maxConcurrency: 2 },
      'gemma3:4b': { maxConcurrency: 1 },
      'mistral:latest': { maxConcurrency: 1, jsonMode: 'object' },
    },
  });
  const w = stack.worker;
  dashboard = await serveDashboard({
    pool: w.pool,
    client: w.client,
    namespace: 'default',
    uiUrl: 'http://127.0.0.1:8233',
    runsDir: w.deps.runsDir,
    projectDir: process.cwd(),
    controls: { training: true },
  });
  browser = await launchBrowser();

  queue = await startQueue(w.client, w.taskQueue, { queue: queueName });
  const short = await queue.executeUpdate(enqueueUpdate, {
    args: [irisJob('short', { steps: 200, checkpointInterval: 50, retention: { keepLast: 2 }, trainer: { env: { HF_TOKEN: SECRET } } })],
  });
  shortInstance = short.instance;
  // Runs ~2.5 minutes unless paused: long enough to watch its curve grow.
  const long = await queue.executeUpdate(enqueueUpdate, {
    args: [
      irisJob('long', {
        steps: 30_000,
        evalInterval: 100,
        checkpointInterval: 2000,
        params: { stepDelayMs: 5 },
        trainer: { env: { HF_TOKEN: SECRET } },
      }),
    ],
  });
  longInstance = long.instance;

  const script = writeReplicateScript();
  const def = withModels(loadExample(), (m) => stack.model(m), `wf3005-dash-${stack.suffix}`);
  convDefinition = def.name;
  const [, , conv] = await Promise.all([
    (async () => {
      const a = await startExperimentBatch(w.client, experiments(batchA, '42'), { taskQueue: w.taskQueue });
      await (a.result() as Promise<ExperimentBatchResult>);
      const b = await startExperimentBatch(w.client, experiments(batchB, '7'), { taskQueue: w.taskQueue });
      await (b.result() as Promise<ExperimentBatchResult>);
    })(),
    runSimulation(
      w.client,
      w.taskQueue,
      shJob(script, {
        jobId: simJob,
        parameters: [{ values: { mode: 'ok', beta: 0.1 } }, { values: { mode: 'every5th-fails', beta: 0.3 } }],
        replicates: 10,
        failurePolicy: { maxFailedPercent: 50 },
      }),
    ),
    (async () => {
      const h = await startConversationBatch(
        w.client,
        {
          batchId: `dash-conv-${tag}`,
          definition: def,
          source: { kind: 'jsonl', path: 'examples/conversations/skills.jsonl' },
          concurrency: 6,
          pageSize: 10,
        },
        { taskQueue: w.taskQueue },
      );
      return (await h.result()) as ConversationBatchResult;
    })(),
  ]);
  convResult = conv;
  await waitStatus(queue, 'the long job to run', (s) => s.current?.jobId === 'long' && (s.current.progress?.step ?? 0) > 0, 90_000);
}, 300_000);

afterAll(async () => {
  await queue?.executeUpdate(stopUpdate, { args: [] }).catch(() => undefined);
  await queue?.terminate('test over').catch(() => undefined);
  await browser?.close();
  await dashboard?.close();
  await stack?.stop();
});

describe('dashboard in a real browser', () => {
  it('overview: pipelines by kind and state match Temporal and the database, with Web UI links', async () => {
    const g = await open('/');
    const counts = await rows(g.page, 'pipeline-counts');
    const batch = counts.find((r) => r.kind === 'experimentBatch')!;
    const { rows: db } = await stack.worker.pool.query(
      `SELECT status, count(*)::int AS n FROM batches WHERE pipeline = 'experimentBatch' GROUP BY status`,
    );
    const n = (s: string) => String(db.find((r) => r.status === s)?.n ?? 0);
    expect(batch['partly failed']).toBe(n('completed_with_failures'));
    expect(Number(batch['partly failed'])).toBeGreaterThanOrEqual(2);
    expect(counts.find((r) => r.kind === 'trainingQueue')?.running).toBe('1');
    // The running trainer is a pending activity with a heartbeat age and its timeout.
    const steps = await waitFor(
      async () => {
        const s = await rows(g.page, 'steps');
        return s.some((r) => r.activityType === 'trainModel') ? s : undefined;
      },
      'the trainer among running steps',
      30_000,
    );
    const train = steps.find((r) => r.activityType === 'trainModel')!;
    expect(train.heartbeatTimeout).toBe('5 s');
    expect(['ok', 'slow']).toContain(train.verdict);
    const link = await g.page.locator(`[data-testid="executions"] a.ui`).first().getAttribute('href');
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\//);
    await g.page.screenshot({ path: path.join(SCREENSHOTS, 'overview.png'), fullPage: true });
  });

  it('experiments: the result table equals experiment_results, sorts, shows failures, compares across batches, downloads the CLI export', async () => {
    const g = await open(`/experiments/${batchB}`);
    const table = await rows(g.page, 'results');
    const { rows: db } = await stack.worker.pool.query(
      `SELECT experiment, status, metrics, attempt, exit_code FROM experiment_results WHERE batch_id = $1`,
      [batchB],
    );
    expect(table.map((r) => r.experiment.replace(' ↗', '')).sort()).toEqual(db.map((r) => r.experiment).sort());
    for (const r of db) {
      const row = table.find((t) => t.experiment.startsWith(r.experiment))!;
      expect(row.status).toBe(r.status);
      expect(row['m:accuracy']).toBe(shown(r.metrics.accuracy ?? null));
    }
    // Sorting by accuracy, twice: ascending then descending, nulls last.
    await g.page.locator('[data-testid="results"] th[data-sort="m:accuracy"]').click();
    const asc = (await rows(g.page, 'results'))
      .map((r) => r['m:accuracy'])
      .filter((v) => v !== '–')
      .map(Number);
    expect(asc).toEqual([...asc].sort((a, b) => a - b));
    await g.page.locator('[data-testid="results"] th[data-sort="m:accuracy"]').click();
    const desc = (await rows(g.page, 'results'))
      .map((r) => r['m:accuracy'])
      .filter((v) => v !== '–')
      .map(Number);
    expect(desc).toEqual([...asc].reverse());

    const failures = await rows(g.page, 'failures');
    const crash = db.find((r) => r.experiment === 'crash')!;
    expect(failures).toHaveLength(1);
    expect(failures[0]!.exitCode).toBe(String(crash.exit_code));
    expect(crash.exit_code).toBe(3);
    expect(failures[0]!.stderr).toContain('fatal: out of cheese at line 7');

    // Across batches: one point per (batch, succeeded experiment) of both batches.
    const { rows: history } = await stack.worker.pool.query(
      `SELECT count(*)::int AS n FROM experiment_results WHERE experiment = ANY($1) AND status = 'succeeded' AND metrics ? 'accuracy'`,
      [db.map((r) => r.experiment)],
    );
    expect(await g.page.getAttribute('[data-testid="chart-across-batches"]', 'data-points')).toBe(String(history[0].n));
    expect(Number(history[0].n)).toBeGreaterThanOrEqual(4);
    expect(await g.page.locator('[data-testid="chart-across-batches"] canvas').count()).toBe(1);

    for (const format of ['csv', 'json'] as const) {
      const href = await g.page.getAttribute(`[data-testid="download-${format}"]`, 'href');
      const body = await g.page.evaluate(async (u) => (await fetch(u!)).text(), href);
      expect(body).toBe(await exportResults(stack.worker.pool, batchB, format));
    }
    await g.page.screenshot({ path: path.join(SCREENSHOTS, 'experiments.png'), fullPage: true });
  });

  it('simulation: progress, aggregates with spread and failed replicates equal the database', async () => {
    const g = await open(`/simulation/${simJob}`);
    const pool = stack.worker.pool;
    const { rows: counts } = await pool.query(
      `SELECT count(*)::int AS done, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM simulation_replicates WHERE job_id = $1`,
      [simJob],
    );
    expect(await g.page.innerText('[data-testid="sim-progress"] [data-key="done"]')).toBe(String(counts[0].done));
    expect(await g.page.innerText('[data-testid="sim-progress"] [data-key="total"]')).toBe('20');
    expect(await g.page.innerText('[data-testid="sim-progress"] [data-key="failed"]')).toBe(String(counts[0].failed));
    expect(counts[0].failed).toBe(2);

    const { rows: aggs } = await pool.query(
      `SELECT parameter_key, parameters, succeeded, failed, aggregates FROM simulation_aggregates WHERE job_id = $1`,
      [simJob],
    );
    const table = await rows(g.page, 'aggregates');
    expect(table).toHaveLength(aggs.length);
    for (const a of aggs) {
      const row = table.find((r) => r.parameterKey.includes(a.parameter_key))!;
      expect(row['p:beta']).toBe(shown(a.parameters.beta));
      expect(row.succeeded).toBe(String(a.succeeded));
      expect(row['value:mean']).toBe(shown(a.aggregates.value.mean));
      expect(row['value:std']).toBe(shown(a.aggregates.value.std));
    }
    // mean, mean + std, mean - std per parameter set, plotted against beta.
    expect(await g.page.getAttribute('[data-testid="chart-agg-value"]', 'data-points')).toBe(String(3 * aggs.length));
    const failed = await rows(g.page, 'failed-replicates');
    expect(failed.map((r) => Number(r.replicate)).sort()).toEqual([0, 5]);
    expect(failed[0]!.error).toContain('diverged');
    await g.page.screenshot({ path: path.join(SCREENSHOTS, 'simulation.png'), fullPage: true });
  });

  it("training: a running job's loss curve gains points without a reload; the finished job shows its kept checkpoints", async () => {
    const g = await open(`/training/${longInstance}`);
    await g.page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const before = Number(await g.page.getAttribute('[data-testid="chart-loss"]', 'data-points'));
    await g.page.waitForFunction(
      (n) => Number(document.querySelector('[data-testid="chart-loss"]')?.getAttribute('data-points')) > n + 4,
      before,
      { timeout: 60_000, polling: 500 },
    );
    expect(await g.page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    // The queue's status carries the running job's config, trainer env and all: shown by name only.
    const queueJson = await g.page.evaluate(async (q) => (await fetch(`/api/training?queue=${q}`)).text(), queueName);
    expect(queueJson).toContain('"HF_TOKEN":"[redacted]"');
    expect(queueJson).not.toContain(SECRET);
    // What the page plots is what training_samples holds (up to the poll in between).
    const shownPoints = Number(await g.page.getAttribute('[data-testid="chart-loss"]', 'data-points'));
    const { rows: db } = await stack.worker.pool.query(
      `SELECT count(train_loss)::int + count(val_loss)::int AS n FROM training_samples WHERE instance = $1`,
      [longInstance],
    );
    expect(db[0].n).toBeGreaterThanOrEqual(shownPoints);
    await g.page.screenshot({ path: path.join(SCREENSHOTS, 'training.png'), fullPage: true });

    const done = await open(`/training/${shortInstance}`);
    const { rows: job } = await stack.worker.pool.query(`SELECT queue, job_id FROM training_jobs WHERE instance = $1`, [shortInstance]);
    const files = readdirSync(jobDirs(trainingRoot(stack.worker.deps.runsDir), job[0].queue, job[0].job_id, shortInstance).checkpoints);
    const kept = await rows(done.page, 'checkpoints');
    expect(kept.map((r) => r.file).sort()).toEqual(files.sort());
    expect(kept.length).toBeGreaterThanOrEqual(2);
    // Which kept file is the latest and which the best (lowest val loss), as retention decided.
    const latest = kept.filter((r) => r.role.includes('latest'));
    expect(latest.map((r) => Number(r.step))).toEqual([Math.max(...kept.map((r) => Number(r.step)))]);
    const best = kept.filter((r) => r.role.includes('best'));
    expect(best).toHaveLength(1);
    expect(Number(best[0]!.valLoss)).toBe(Math.min(...kept.filter((r) => r.valLoss !== '–').map((r) => Number(r.valLoss))));
    const { rows: samples } = await stack.worker.pool.query(`SELECT count(*)::int AS n FROM training_samples WHERE instance = $1`, [
      shortInstance,
    ]);
    expect(await done.page.innerText('[data-testid="sample-count"]')).toBe(`${samples[0].n} samples`);
    expect(await done.page.getAttribute('#live', 'data-live')).toBe('false');
  });

  it("training control: pause from the page goes through the queue's validated update, and a second pause is refused with its message", async () => {
    const g = await open(`/training?queue=${queueName}`);
    await g.page.locator(`[data-testid="queue-${queueName}"] button[data-control="pause"]`).click();
    const s = await waitStatus(queue, 'the queue to pause', (st) => st.paused && st.current === null, 60_000);
    expect(s.pauseReason).toBe('paused from the dashboard');
    await g.page.waitForSelector('[data-testid="pause-reason"]');
    expect(await g.page.innerText('[data-testid="pause-reason"]')).toContain('paused from the dashboard');
    // From outside the page (a refused request would log a console error there).
    const refused = await fetch(`${dashboard.url}/api/training/queues/${queueName}/pause`, {
      method: 'POST',
      headers: { 'x-shepherd-control': '1' },
    });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: string }).error).toContain('is already paused');
    const noHeader = await fetch(`${dashboard.url}/api/training/queues/${queueName}/resume`, { method: 'POST' });
    expect(noHeader.status).toBe(400);
    expect((await status(queue)).paused).toBe(true);
    expect((await status(queue)).pending.map((p) => p.jobId)).toContain('long');
  });

  it("conversations: latency percentiles, timeouts beside recommendations, and one item's audit log equal the database", async () => {
    expect(convResult.completed).toBeGreaterThan(0);
    const g = await open(`/conversations/${encodeURIComponent(convDefinition)}`);
    const metrics = await stepMetrics(stack.worker.pool, { definition: convDefinition, days: 1 });
    const table = await rows(g.page, 'step-metrics');
    expect(table).toHaveLength(metrics.length);
    for (const m of metrics) {
      const row = table.find((r) => r.step === m.step && r.actor === m.actor)!;
      expect(row.attempts).toBe(String(m.attempts));
      expect(row.p50Ms).toBe(shown(m.p50Ms));
      expect(row.p95Ms).toBe(shown(m.p95Ms));
      expect(row.p99Ms).toBe(shown(m.p99Ms));
    }
    const def = loadExample();
    const recs = await rows(g.page, 'recommendations');
    expect(recs.map((r) => r.step).sort()).toEqual(def.steps.map((s) => s.id).sort());
    for (const r of recs) {
      const step = def.steps.find((s) => s.id === r.step)!;
      const configured = step.timeout ?? def.defaults?.timeout;
      expect(durationToMs(r.configured as never)).toBe(durationToMs(configured as never));
    }
    await g.page.screenshot({ path: path.join(SCREENSHOTS, 'conversations.png'), fullPage: true });

    const item = (await rows(g.page, 'items'))[0]!.itemKey;
    const audit = await open(`/conversations/${encodeURIComponent(convDefinition)}/items/${encodeURIComponent(item)}`);
    const entries = await rows(audit.page, 'audit');
    const dbRows = await listAttempts(stack.worker.pool, { definition: convDefinition, itemKey: item });
    expect(entries.map((e) => `${e.step}#${e.attempt}:${e.status}`).sort()).toEqual(
      dbRows.map((r) => `${r.step}#${r.attempt}:${r.status}`).sort(),
    );
    expect(entries.length).toBeGreaterThan(0);
  });

  it('analysis: findings per target, analyzer and severity equal analysis_findings', async () => {
    const { rows: db } = await stack.worker.pool.query(
      `SELECT pipeline_id, model, app, analyzer, severity, count(*)::int AS n FROM analysis_findings GROUP BY 1, 2, 3, 4, 5`,
    );
    const g = await open('/analysis');
    const text = await g.page.innerText('main');
    expect(text).toContain('Analysis findings');
    if (db.length === 0) expect(text).toContain('no findings');
    for (const r of db) expect(text).toContain(`${r.pipeline_id}/${r.model}/${r.app}`);
    expect(await g.page.locator('[data-testid="findings"] tbody tr').count()).toBe(db.length);
  });

  it('no page logged a console error, requested anything beyond 127.0.0.1, or showed a secret', async () => {
    expect(pages.length).toBeGreaterThanOrEqual(7);
    for (const g of pages) {
      expect(g.consoleErrors).toEqual([]);
      expect(g.foreignRequests).toEqual([]);
      expect(await g.page.content()).not.toContain(SECRET);
    }
    // The JSON behind every page too (the training queue's status carries the trainer's env).
    const apis = [...new Set(pages.flatMap((g) => g.requests).filter((u) => new URL(u).pathname.startsWith('/api/')))];
    expect(apis.some((u) => u.includes('/api/training'))).toBe(true);
    for (const u of [...apis, `${dashboard.url}/api/training?queue=${queueName}`]) {
      const body = await (await fetch(u)).text();
      expect(body).not.toContain(SECRET);
    }
    const { rows: cfg } = await stack.worker.pool.query(`SELECT config FROM training_jobs WHERE instance = $1`, [shortInstance]);
    expect(JSON.stringify(cfg[0].config)).toContain(SECRET); // it was there to leak
  });
});
