import { randomUUID } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulationJobInput, SimulationJobResult, SweepProgress } from '../src/shared/simulation/schemas.js';
import type { SimulationJobProgress } from '../src/shared/simulation/messages.js';
import { sweepWorkflowId } from '../src/shared/simulation/workflow-ids.js';
import { workflowWorkspaceDir } from '../src/storage/workspace-layout.js';
import { startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { waitFor } from './support/procs.js';
import { runSimulation, shJob, startSimulation, writeReplicateScript } from './support/simulation.js';
import { rejectionOf } from './support/failures.js';

// simulationJob end to end against the real dev server, PostgreSQL and real replicate processes.

let w: TestWorker;
let script: string;
const id = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  w = await startTestWorker({ maxConcurrentActivityTaskExecutions: 20 });
  script = writeReplicateScript();
});
afterAll(async () => {
  await w?.stop();
});

const failureOf = (p: Promise<unknown>) => rejectionOf<Error>(p);

function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as (Error & { cause?: unknown }) | undefined; e; e = e.cause as typeof e) parts.push(e.message);
  return parts.join(' <- ');
}

describe('simulationJob', () => {
  it('sweeps the example SIR model in a validated environment and stores one aggregate per parameter set', async () => {
    const example = JSON.parse(readFileSync('examples/simulation/job.json', 'utf8')) as SimulationJobInput;
    const input: SimulationJobInput = { ...example, jobId: id('sir'), parameters: example.parameters.slice(0, 3), replicates: 5 };
    const result = await runSimulation(w.client, w.taskQueue, input);

    expect(result.status).toBe('completed');
    expect(result.totals).toEqual({ parameters: 3, replicates: 15, succeeded: 15, failed: 0, parametersFailed: 0 });
    expect(result.environment).toMatchObject({ action: expect.stringMatching(/built|reused/), probe: { ok: true, exitCode: 0 } });
    expect(result.environment!.key).toMatch(/^[0-9a-f]{32}$/);
    expect(result.environment!.parts.runtime).toBe(process.version);
    for (const p of result.parameters) {
      expect(p).toMatchObject({ status: 'completed', succeeded: 5, failed: 0, aggregated: true });
      const attack = p.aggregates!.attackRate;
      expect(attack.count).toBe(5);
      expect(attack.min!).toBeGreaterThanOrEqual(0);
      expect(attack.max!).toBeLessThanOrEqual(1);
      expect(attack.mean!).toBeGreaterThanOrEqual(attack.min!);
      expect(Object.keys(attack.percentiles!)).toEqual(['p5', 'p50', 'p95']);
    }

    const { rows } = await w.pool.query(
      `SELECT parameter_key, succeeded, failed, aggregates, environment_key FROM simulation_aggregates WHERE job_id = $1 ORDER BY parameter_key`,
      [input.jobId],
    );
    expect(rows).toHaveLength(3);
    const fromResult = Object.fromEntries(result.parameters.map((p) => [p.key, p.aggregates]));
    for (const row of rows) {
      expect(row.aggregates).toEqual(fromResult[row.parameter_key]);
      expect(row.environment_key).toBe(result.environment!.key);
    }
    const { rows: reps } = await w.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT seed)::int AS seeds FROM simulation_replicates WHERE job_id = $1`,
      [input.jobId],
    );
    expect(reps[0]).toEqual({ n: 15, seeds: 15 });

    const handle = w.client.workflow.getHandle(`simulation-${input.jobId}`);
    const progress = await handle.query<SimulationJobProgress>('progress');
    expect(progress.parameters.every((p) => p.aggregated && p.status === 'completed' && p.succeeded === 5)).toBe(true);
    const desc = await handle.describe();
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the record view still shows what the workflows' record-form upserts wrote
    expect(desc.searchAttributes).toMatchObject({ PipelineKind: ['simulationJob'], PipelineId: [input.jobId], Stage: ['completed'] });
    const sweep = await w.client.workflow.getHandle(sweepWorkflowId(input.jobId, result.parameters[0].key)).describe();
    // eslint-disable-next-line @typescript-eslint/no-deprecated -- the record view still shows what the workflows' record-form upserts wrote
    expect(sweep.searchAttributes).toMatchObject({ PipelineKind: ['parameterSweep'], PipelineId: [input.jobId], Stage: ['completed'] });
  });

  it('runs a sweep in about five tasks when the job does not say how many replicates a task holds', async () => {
    // Each task costs an activity, a workflow task and heartbeats: 10 replicates are 5 tasks of 2, not 10 of 1.
    const input = shJob(script, { jobId: id('tasks'), parameters: [{ key: 'only', values: { mode: 'ok' } }], replicates: 10 });
    const result = await runSimulation(w.client, w.taskQueue, input);
    expect(result.totals).toMatchObject({ replicates: 10, succeeded: 10 });
    const history = await w.client.workflow.getHandle(sweepWorkflowId(input.jobId, 'only')).fetchHistory();
    const batches = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'runReplicateBatch',
    );
    expect(batches).toHaveLength(5);
  });

  it("starts every replicate in a fresh workspace, reusing finished ones' directories, and leaves none behind", async () => {
    // Each replicate reports what its workspace held when it started, and which directory it is.
    const look =
      'printf \'{"value":1,"nested":{"r":1},"files":"%s","reserved":"%s","logBytes":%s,"dir":%s}\' ' +
      '"$(ls -A | tr \'\\n\' \' \')" "$(ls -A .shepherd)" "$(cat stdout.log stderr.log | wc -c)" "$(stat -c %i .)" > "$SHEPHERD_RESULT_FILE"; echo done';
    const input = shJob(script, {
      jobId: id('fresh'),
      parameters: [{ key: 'only', values: { mode: 'ok' } }],
      replicates: 30,
      replicatesPerTask: 30,
      maxConcurrentReplicates: 3,
      replicate: { command: 'sh', args: ['-c', look] },
    });
    const result = await runSimulation(w.client, w.taskQueue, input);
    expect(result.totals).toMatchObject({ replicates: 30, succeeded: 30 });
    const { rows } = await w.pool.query<{ result: { files: string; reserved: string; logBytes: number; dir: number } }>(
      'SELECT result FROM simulation_replicates WHERE job_id = $1',
      [input.jobId],
    );
    expect(rows).toHaveLength(30);
    for (const { result: seen } of rows)
      expect(seen).toMatchObject({ files: '.shepherd stderr.log stdout.log ', reserved: '', logBytes: 0 });
    // At most one directory per replicate running at once: the others were handed on, emptied.
    expect(new Set(rows.map((r) => r.result.dir)).size).toBeLessThanOrEqual(3);
    // Successful replicates' workspaces are removed, spares included: only empty per-replicate directories remain.
    const tree = workflowWorkspaceDir(w.deps.runsDir, sweepWorkflowId(input.jobId, 'only'));
    const left = readdirSync(tree, { recursive: true, withFileTypes: true }).filter(
      (e) => !e.isDirectory() || !/^replicate-\d+$/.test(e.name),
    );
    expect(left.map((e) => path.join(e.parentPath, e.name))).toEqual([path.join(tree, readdirSync(tree)[0]!)]);
  });

  it('aggregates only after every replicate finished: one slow replicate holds the aggregation back', async () => {
    const release = path.join(tempDir('release'), 'go');
    const input = shJob(script, {
      jobId: id('hold'),
      parameters: [{ values: { mode: 'hold-3' } }],
      replicates: 8,
      // One replicate per task, so the sweep's counts move replicate by replicate.
      replicatesPerTask: 1,
      replicate: { command: 'sh', args: [script, '{param.mode}'], env: { RELEASE_FILE: release } },
    });
    const handle = await startSimulation(w.client, w.taskQueue, input);
    const key = 'mode-hold-3';
    const sweep = w.client.workflow.getHandle(sweepWorkflowId(input.jobId, key));

    // Seven replicates are done, replicate 3 is still running: no aggregate may exist yet.
    const held = await waitFor(async () => {
      const p = await sweep.query<SweepProgress>('progress').catch(() => undefined);
      return p && p.succeeded === 7 && p.running === 1 ? p : undefined;
    }, 'all replicates but the held one');
    expect(held).toMatchObject({ status: 'running', aggregated: false, failed: 0 });
    const { rows: none } = await w.pool.query('SELECT 1 FROM simulation_aggregates WHERE job_id = $1', [input.jobId]);
    expect(none).toEqual([]);
    const jobView = await handle.query<SimulationJobProgress>('progress');
    expect(jobView.parameters[0].aggregated).toBe(false);

    writeFileSync(release, '');
    const result = (await handle.result()) as SimulationJobResult;
    const value = result.parameters[0].aggregates!.value;
    // The held replicate reported 1000: the aggregate includes it, so it waited for it.
    expect(value).toMatchObject({ count: 8, max: 1000, min: 0 });
    expect(result.parameters[0].aggregates!['nested.r']).toMatchObject({ count: 8, mean: 3.5 });
  });

  it('applies the partial-failure policy both ways', async () => {
    // Replicates 0, 5 (of 10) fail for good: 20% failed.
    const base = { parameters: [{ values: { mode: 'every5th-fails' } }], replicates: 10, replicatesPerTask: 5 };
    const [lenient, strict] = await Promise.all([
      runSimulation(w.client, w.taskQueue, shJob(script, { ...base, jobId: id('lenient'), failurePolicy: { maxFailedPercent: 30 } })),
      runSimulation(w.client, w.taskQueue, shJob(script, { ...base, jobId: id('strict'), failurePolicy: { maxFailedPercent: 10 } })),
    ]);

    expect(lenient.status).toBe('completed');
    expect(lenient.parameters[0]).toMatchObject({ status: 'completed', succeeded: 8, failed: 2, aggregated: true });
    expect(lenient.parameters[0].aggregates!.value).toMatchObject({ count: 8, min: 1, max: 9 });
    expect(lenient.parameters[0].failureSamples!.map((s) => s.replicate).sort()).toEqual([0, 5]);
    expect(lenient.parameters[0].failureSamples![0].error).toMatch(/boom: replicate \d diverged/);

    expect(strict.status).toBe('failed');
    expect(strict.parameters[0]).toMatchObject({ status: 'failed', aggregated: false });
    expect(strict.parameters[0].error).toMatch(/failed for good, more than the allowed 10%/);
    expect(strict.parameters[0].error).toMatch(/boom: replicate \d diverged/);
    const { rows } = await w.pool.query('SELECT 1 FROM simulation_aggregates WHERE job_id = $1', [strict.jobId]);
    expect(rows).toEqual([]);
  });

  it('never runs more replicates at once than maxConcurrentReplicates, even with more parameter sets than that', async () => {
    // Each replicate registers itself in a shared directory while it runs and reports how many
    // replicates (of any parameter set) were registered at that moment.
    const dir = tempDir('concurrent');
    const counter = path.join(tempDir('counter'), 'count.sh');
    writeFileSync(
      counter,
      `#!/bin/sh\nme="$COUNT_DIR/$SHEPHERD_PARAMETER_KEY-$SHEPHERD_REPLICATE"\ntouch "$me"\nsleep 0.3\nn=$(ls "$COUNT_DIR" | wc -l)\nrm -f "$me"\nprintf '{"concurrent": %s}' "$n" > "$SHEPHERD_RESULT_FILE"\n`,
    );
    chmodSync(counter, 0o755);
    const result = await runSimulation(
      w.client,
      w.taskQueue,
      shJob(script, {
        jobId: id('budget'),
        parameters: Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, values: { i } })),
        replicates: 3,
        maxConcurrentReplicates: 2,
        replicate: { command: 'sh', args: [counter], env: { COUNT_DIR: dir } },
        aggregate: { fields: ['concurrent'], percentiles: [50] },
      }),
    );
    expect(result.status).toBe('completed');
    const seen = result.parameters.map((p) => p.aggregates!.concurrent);
    for (const s of seen) expect(s.count).toBe(3);
    expect(Math.max(...seen.map((s) => s.max!))).toBeLessThanOrEqual(2);
  });

  it('fails fast and clearly when the runner dies, keeps no protocol, cannot start or never gets ready', async () => {
    const input = shJob(script, {
      jobId: id('dying'),
      parameters: [
        { values: { mode: 'import-error' } },
        { values: { mode: 'no-result' } },
        { values: { mode: 'hang' } },
        { values: { mode: 'ok' } },
      ],
      replicates: 40,
      replicatesPerTask: 4,
      replicateTimeout: '1s',
      replicateRetry: { maximumAttempts: 1 },
    });
    const result = await runSimulation(w.client, w.taskQueue, input);
    const by = Object.fromEntries(result.parameters.map((p) => [p.key, p]));
    expect(result.status).toBe('completed_with_failures');
    expect(by['mode-import-error'].error).toMatch(/exited with code 1[\s\S]*ImportError: No module named 'numpy'/);
    expect(by['mode-no-result'].error).toMatch(/wrote no result file .* never from stdout/);
    expect(by['mode-hang'].error).toMatch(/stopped at its deadline[\s\S]*loading model\.\.\./);
    expect(by['mode-ok']).toMatchObject({ status: 'completed', succeeded: 40 });
    // The policy (0% allowed) was lost at the first failure: the rest of those sweeps never ran.
    const { rows } = await w.pool.query(
      `SELECT parameter_key, count(*)::int AS n FROM simulation_replicates WHERE job_id = $1 GROUP BY parameter_key`,
      [input.jobId],
    );
    const ran = Object.fromEntries(rows.map((r) => [r.parameter_key, r.n]));
    for (const k of ['mode-import-error', 'mode-no-result', 'mode-hang']) expect(ran[k] ?? 0).toBeLessThan(40);

    const missing = await runSimulation(w.client, w.taskQueue, {
      ...shJob(script, { jobId: id('missing'), parameters: [{ values: { mode: 'ok' } }], replicates: 3 }),
      replicate: { command: 'no-such-model-runner' },
    });
    expect(missing.status).toBe('failed');
    expect(missing.parameters[0].error).toMatch(/command not found: "no-such-model-runner"/);
  });

  it('continues as new with its counts when the history grows, and the aggregate covers every replicate', async () => {
    const input = shJob(script, {
      jobId: id('can'),
      parameters: [{ values: { mode: 'ok' } }],
      replicates: 30,
      replicatesPerTask: 1,
      maxConcurrentReplicates: 3,
      continueAsNewAfterEvents: 60,
    });
    const result = await runSimulation(w.client, w.taskQueue, input);
    const p = result.parameters[0];
    expect(p.runs).toBeGreaterThan(1);
    expect(p).toMatchObject({ status: 'completed', succeeded: 30, failed: 0 });
    expect(p.aggregates!['nested.r']).toMatchObject({ count: 30, min: 0, max: 29, mean: 14.5 });
    // Every run of the chain stayed near the configured size.
    const runs = [];
    for await (const e of w.client.workflow.list({ query: `WorkflowId = '${sweepWorkflowId(input.jobId, 'mode-ok')}'` })) runs.push(e);
    expect(runs.length).toBe(p.runs);
    for (const r of runs) expect(r.historyLength).toBeLessThan(200);
  });

  it('keeps an oversized result out of Temporal and points to the stored aggregates', async () => {
    const fields = Array.from({ length: 50 }, (_, i) => `field_${i}`);
    const percentiles = Array.from({ length: 20 }, (_, i) => i * 5);
    const input = shJob(script, {
      jobId: id('wide'),
      parameters: Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, values: { mode: 'ok', i } })),
      replicates: 1,
      maxConcurrentReplicates: 100,
      aggregate: { fields, percentiles },
    });
    const result = await runSimulation(w.client, w.taskQueue, input);
    expect(result.status).toBe('completed');
    expect(result.aggregatesOmitted).toMatch(/SELECT \* FROM simulation_aggregates WHERE job_id = 'wide-/);
    expect(result.parameters.every((p) => p.aggregates === undefined && p.aggregated)).toBe(true);
    const { rows } = await w.pool.query('SELECT count(*)::int AS n FROM simulation_aggregates WHERE job_id = $1', [input.jobId]);
    expect(rows[0].n).toBe(100);
  });

  it('rejects bad input at once, naming the field, and refuses a job ID reused for different work', async () => {
    const bad = await failureOf(
      runSimulation(w.client, w.taskQueue, shJob(script, { jobId: id('bad'), parameters: [{ values: { mode: 'ok' } }], replicates: 0 })),
    );
    expect(bad).toBeInstanceOf(WorkflowFailedError);
    expect(causeChain(bad)).toMatch(/invalid input: input\.replicates: /);

    const jobId = id('reuse');
    const first = await runSimulation(
      w.client,
      w.taskQueue,
      shJob(script, { jobId, parameters: [{ values: { mode: 'ok' } }], replicates: 3 }),
    );
    expect(first.status).toBe('completed');
    const again = await runSimulation(
      w.client,
      w.taskQueue,
      shJob(script, { jobId, parameters: [{ values: { mode: 'ok' } }], replicates: 3 }),
    );
    expect(again.parameters[0].aggregates).toEqual(first.parameters[0].aggregates);
    const conflict = await failureOf(
      runSimulation(w.client, w.taskQueue, shJob(script, { jobId, parameters: [{ values: { mode: 'ok' } }], replicates: 4 })),
    );
    expect(causeChain(conflict)).toMatch(/input\.jobId: job reuse-\w+ already exists with a different input/);
    const { rows } = await w.pool.query('SELECT count(*)::int AS n FROM simulation_replicates WHERE job_id = $1', [jobId]);
    expect(rows[0].n).toBe(3);
  });
});
