import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchResult } from '../src/client/outcome.js';
import { startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { experiments, simulation } from '../src/client/index.js';
import { pendingSteps, type PipelineExecution } from '../src/dashboard/temporal.js';
import { experimentRunWorkflowId } from '../src/shared/experiments/workflow-ids.js';
import { experimentsCli } from '../src/cli/pipelines/experiments.js';
import { trainingCli } from '../src/cli/pipelines/training.js';
import { simulationCli } from '../src/cli/pipelines/simulation.js';
import { recommendForTrainingJob, trainingRecommendationLines } from '../src/cli/pipelines/training-recommend.js';
import { recommendForJob, replicateRecommendationLines } from '../src/cli/pipelines/simulation-recommend.js';
import { enqueueUpdate } from '../src/shared/training/messages.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';
import { markedProcesses, waitFor } from './support/procs.js';
import { recommendationLines, recommendForBatch } from '../src/cli/pipelines/experiments-recommend.js';
import { upsertExperimentResult, experimentResultSchema } from '../src/activities/experiments/results.js';
import { shJob, startSimulation, writeReplicateScript } from './support/simulation.js';
import type { Payload } from '@temporalio/common';
import { sweepWorkflowId } from '../src/shared/simulation/workflow-ids.js';
import type { SimulationJobResult } from '../src/shared/simulation/schemas.js';
import { irisJob, startQueue, status, waitStatus, type QueueHandle } from './support/training.js';

// Progress-based liveness through a real worker and server: a hung step is stopped as
// StepStalled and retried by its retry policy, and `shepherd <pipeline> status` says it is
// silent or stalled while it happens, not merely "running".

const MARK = 'SHEPHERD_TEST_MARKER';
const live = (marker: string) => markedProcesses(MARK, marker);

describe('progressTimeout through a real worker', () => {
  let w: TestWorker;
  const queues: QueueHandle[] = [];
  beforeAll(async () => {
    w = await startTestWorker();
  });
  afterAll(async () => {
    for (const h of queues) await h.terminate().catch(() => undefined);
    await w?.stop();
  });

  it('an experiment that hangs after one line is stalled, retried, shown as silent then stalled, and leaves no process', async () => {
    const marker = randomUUID();
    const batchId = `stall-${marker.slice(0, 8)}`;
    const hung = nodeExperiment('hung', `console.log('connecting to parameter server'); setInterval(() => {}, 1000);`, {
      env: { [MARK]: marker },
      progressTimeout: '6s',
    });
    const handle = await startExperimentBatch(
      w.client,
      { batchId, experiments: [hung], heartbeatTimeout: '3s', retry: { maximumAttempts: 2, initialInterval: '200ms' } },
      { taskQueue: w.taskQueue },
    );
    const cliHandle = experiments.get(w.client, batchId);
    const cliLines = async () =>
      experimentsCli.progressLines(await experimentsCli.enrich!(w.client, cliHandle, await cliHandle.progress()), Date.now()).join('\n');
    // What `shepherd experiments status` prints while the step is silent, then after the first stall.
    const silent = await waitFor(async () => {
      const text = await cliLines();
      return /no output for \d+s \(progressTimeout 6s\)|stalled for/.test(text) && text;
    }, 'the CLI showing the silence');
    expect(silent).toMatch(/hung\s+(running \d+s, no output for|stalled for)/);
    // The dashboard's running-steps table says the same of the program, beside the heartbeat verdict.
    const run = await w.client.workflow.getHandle(experimentRunWorkflowId(batchId, 'hung')).describe();
    const execution = { workflowId: run.workflowId, runId: run.runId, type: 'experimentRun' } as PipelineExecution;
    const [dashboardStep] = await waitFor(async () => {
      const steps = await pendingSteps(w.client, [execution]);
      return steps[0]?.liveness ? steps : undefined;
    }, 'the dashboard showing the silence');
    expect(dashboardStep).toMatchObject({
      activityType: 'runExperiment',
      liveness: expect.stringMatching(/^no output for \d+s \(progressTimeout 6s\)|^stalled for/),
    });
    const retried = await waitFor(async () => {
      const text = await cliLines();
      return /attempt 2, after StepStalled/.test(text) && text;
    }, 'the CLI showing the retry after the stall');
    expect(retried).toContain('hung');

    const result = await batchResult<ExperimentBatchResult>(handle);
    expect(result.experiments[0]).toMatchObject({ status: 'failed' });
    expect(result.experiments[0].error).toMatch(
      /stalled: no output line and no growth of its workspace files for \d+s \(progressTimeout 6s\).*connecting to parameter server/,
    );
    const { rows } = await w.pool.query('SELECT attempt, failure FROM experiment_results WHERE batch_id = $1', [batchId]);
    expect(rows[0]).toMatchObject({ attempt: 2, failure: { stalled: true, lastOutputLine: 'connecting to parameter server' } });
    expect(live(marker)).toEqual([]);
  });

  it('a trainer that keeps printing but never advances its step is stalled, and the queue status says "no progress"', async () => {
    const marker = randomUUID();
    const trainer = `console.log(JSON.stringify({ event: 'start', step: 0, total_steps: 100 }));
      setInterval(() => console.log('waiting for a free GPU'), 100);`;
    const h = await startQueue(w.client, w.taskQueue, { queue: `stall-${marker.slice(0, 8)}` });
    queues.push(h);
    await h.executeUpdate(enqueueUpdate, {
      args: [
        irisJob('hung', {
          trainer: { command: process.execPath, args: ['-e', trainer], env: { [MARK]: marker } },
          progressTimeout: '6s',
          retry: { maximumAttempts: 2, initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s' },
        }),
      ],
    });
    const s = await waitStatus(h, 'the queue reporting the missing progress', (x) =>
      /no progress for|stalled for/.test(trainingCli.progressLines(x, Date.now()).join('\n')),
    );
    expect(trainingCli.progressLines(s, Date.now()).join('\n')).toMatch(
      /running hung: step 0\/100.*(, no progress for \d+s \(progressTimeout 6s\)|; stalled for)/,
    );
    const done = await waitStatus(h, 'the job failed after its retries', (x) => x.recent.length === 1);
    expect(done.recent[0]).toMatchObject({ jobId: 'hung', status: 'failed' });
    expect(done.recent[0]!.error).toMatch(/no progress past step 0 for \d+ s \(progressTimeout 6s\).*waiting for a free GPU/);
    expect(live(marker)).toEqual([]);
    expect((await status(h)).counts.failed).toBe(1);
  });

  it('a successful run records its longest silence, and `experiments recommend` turns enough of them into a progressTimeout', async () => {
    const marker = randomUUID();
    const name = `quiet-${marker.slice(0, 8)}`;
    const batch = {
      batchId: `silence-${marker.slice(0, 8)}`,
      experiments: [nodeExperiment(name, `console.log('start'); setTimeout(() => { console.log('end'); done({ accuracy: 1 }); }, 1500);`)],
    };
    const result = await batchResult<ExperimentBatchResult>(await startExperimentBatch(w.client, batch, { taskQueue: w.taskQueue }));
    expect(result.experiments[0]).toMatchObject({ status: 'succeeded' });
    const { rows } = await w.pool.query<{ longest_silence_ms: number }>(
      'SELECT longest_silence_ms FROM experiment_results WHERE batch_id = $1',
      [batch.batchId],
    );
    const measured = rows[0]!.longest_silence_ms;
    expect(measured).toBeGreaterThanOrEqual(1000);

    // Too few runs: no recommendation, and the table says why.
    const few = await recommendForBatch(w.pool, batch, { days: 1 });
    expect(few[0]).toMatchObject({ experiment: name, samples: 1, recommended: null, configured: null });
    expect(recommendationLines(few).join('\n')).toMatch(/needs at least 5 successful runs \(have 1\)/);

    // Four more successful runs of the same experiment in other batches, one with a long silence; a failed run does not count.
    for (const [i, silence] of [40_000, 2_000, 3_000, 1_000].entries()) {
      await upsertExperimentResult(
        w.pool,
        experimentResultSchema.parse({
          batchId: `${batch.batchId}-${i}`,
          experiment: name,
          status: 'succeeded',
          longestSilenceMs: silence,
        }),
      );
    }
    await upsertExperimentResult(
      w.pool,
      experimentResultSchema.parse({ batchId: `${batch.batchId}-failed`, experiment: name, status: 'failed', longestSilenceMs: 900_000 }),
    );
    const recs = await recommendForBatch(w.pool, batch, { days: 1 });
    expect(recs[0]).toMatchObject({ samples: 5, longestSilenceMs: 40_000, recommended: '2m' });
    expect(recommendationLines(recs).join('\n')).toMatch(new RegExp(`${name}\\s.*5\\s.*40s\\s.*2m`));
  });

  it('a simulation replicate that hangs is stalled and retried by the replicate retry policy; healthy ones record their silence', async () => {
    const marker = randomUUID();
    const jobId = `stall-${marker.slice(0, 8)}`;
    const script = writeReplicateScript();
    const handle = await startSimulation(
      w.client,
      w.taskQueue,
      shJob(script, {
        jobId,
        replicate: { command: 'sh', args: [script, '{param.mode}'], env: { [MARK]: marker }, progressTimeout: '6s' },
        parameters: [
          { key: 'ok', values: { mode: 'ok' } },
          { key: 'hung', values: { mode: 'hang' } },
        ],
        replicates: 2,
        heartbeatTimeout: '3s',
      }),
    );
    // The replicate batch's heartbeat (Web UI: pending activity details) names its silentest
    // replicate, and `shepherd simulation status` shows it under its parameter set.
    const cliHandle = simulation.get(w.client, jobId);
    let cliText: string | undefined;
    const quietest = await waitFor(async () => {
      const lines = simulationCli.progressLines(await simulationCli.enrich!(w.client, cliHandle, await cliHandle.progress()), Date.now());
      if (/replicate \d+: (no output for|stalled for)/.test(lines.join('\n'))) cliText ??= lines.join('\n');
      const d = await w.client.workflow
        .getHandle(sweepWorkflowId(jobId, 'hung'))
        .describe()
        .catch(() => undefined);
      for (const a of d?.raw.pendingActivities ?? []) {
        const p = a.heartbeatDetails?.payloads?.[0];
        const details = p
          ? (w.client.options.loadedDataConverter.payloadConverter.fromPayload(p as Payload) as { quietest?: { state: string } })
          : undefined;
        if (cliText && details?.quietest && /no output for|stalled for/.test(details.quietest.state)) return details.quietest;
      }
      return undefined;
    }, 'the replicate batch heartbeat and the CLI naming its silent replicate');
    expect(cliText).toMatch(/ {2}hung: .*\n {4}replicate \d+: (no output for \d+s \(progressTimeout 6s\)|stalled for)/);
    expect(quietest).toMatchObject({
      progressTimeoutMs: 6000,
      state: expect.stringMatching(/no output for \d+s \(progressTimeout 6s\)|stalled for/),
    });
    const result = await batchResult<SimulationJobResult>(handle);
    expect(result.parameters.find((p) => p.key === 'ok')).toMatchObject({ status: 'completed' });
    expect(result.parameters.find((p) => p.key === 'hung')).toMatchObject({ status: 'failed' });
    const { rows } = await w.pool.query<{
      parameter_key: string;
      status: string;
      attempts: number;
      error: string | null;
      longest_silence_ms: number | null;
    }>(
      'SELECT parameter_key, status, attempts, error, longest_silence_ms FROM simulation_replicates WHERE job_id = $1 ORDER BY parameter_key, replicate',
      [jobId],
    );
    // A parameter that lost a replicate for good stops starting more (failure budget): one or both ran.
    const hung = rows.filter((r) => r.parameter_key === 'hung');
    expect(hung.length).toBeGreaterThanOrEqual(1);
    for (const r of hung) {
      expect(r).toMatchObject({
        status: 'failed',
        attempts: 2,
        error: expect.stringMatching(/stalled: .* \(progressTimeout 6s\).*loading model/),
      });
    }
    for (const r of rows.filter((x) => x.parameter_key === 'ok'))
      expect(r).toMatchObject({ status: 'succeeded', longest_silence_ms: expect.any(Number) });
    expect(live(marker)).toEqual([]);

    // `shepherd simulation recommend`: the two successful replicates of this command are its samples.
    const input = shJob(script, { jobId: 'any-new-job', parameters: [{ key: 'ok', values: { mode: 'ok' } }], replicates: 1 });
    const few = await recommendForJob(w.pool, input, { days: 1, minSamples: 5 });
    expect(few[0]).toMatchObject({ replicate: `sh ${script} {param.mode}`, configured: null, samples: 2, recommended: null });
    expect(replicateRecommendationLines(few).join('\n')).toMatch(/needs at least 5 successful runs \(have 2\)/);
    const enough = await recommendForJob(w.pool, input, { days: 1, minSamples: 2 });
    expect(enough[0]).toMatchObject({ samples: 2, recommended: '1m' });
  });

  it('a healthy trainer with a progressTimeout completes, and its longest gap between step advances is stored with the job', async () => {
    const h = await startQueue(w.client, w.taskQueue, { queue: `fine-${randomUUID().slice(0, 8)}` });
    queues.push(h);
    await h.executeUpdate(enqueueUpdate, {
      args: [irisJob('fine', { steps: 60, evalInterval: 20, checkpointInterval: 20, progressTimeout: '1m' })],
    });
    const done = await waitStatus(h, 'the job finished', (x) => x.recent.length === 1);
    expect(done.recent[0]).toMatchObject({ jobId: 'fine', status: 'completed' });
    // The queue lists the job as finished, then records its row: wait for the row's metrics.
    const silence = async () => {
      const { rows } = await w.pool.query<{ metrics: { longestSilenceMs?: unknown } | null }>(
        'SELECT metrics FROM training_jobs WHERE queue = $1',
        [done.queue],
      );
      return rows[0]?.metrics?.longestSilenceMs;
    };
    await expect.poll(silence, { timeout: 10_000 }).toEqual(expect.any(Number));

    // `shepherd training recommend`: completed runs of the job ID, from any queue, are the samples.
    const job = irisJob('fine', { steps: 60 });
    const mine = await recommendForTrainingJob(w.pool, job, { days: 1, minSamples: 1000 });
    expect(mine[0]).toMatchObject({ job: 'fine', configured: null, recommended: null });
    expect(mine[0]!.samples).toBeGreaterThanOrEqual(1);
    expect(trainingRecommendationLines(mine).join('\n')).toMatch(/needs at least 1000 successful runs/);
    const enough = await recommendForTrainingJob(w.pool, job, { days: 1, minSamples: 1 });
    expect(enough[0]!.recommended).toMatch(/^\d+[sm]$/);
  });
});
