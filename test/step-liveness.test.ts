import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCommandActivities,
  executeStep,
  StepLiveness,
  type CommandHeartbeat,
  type CommandResult,
  type CommandSpec,
  type StepFailureDetails,
} from '../src/activities/step/command.js';
import type { ActivityDeps } from '../src/activities/deps.js';
import { parseCommandSpec } from '../src/shared/step/command-spec.js';
import { describeLiveness, recommendProgressTimeout } from '../src/shared/step/liveness.js';
import { experimentBatchSchema } from '../src/shared/experiments/schemas.js';
import { simulationJobSchema } from '../src/shared/simulation/schemas.js';
import { trainingJobSchema } from '../src/shared/training/schemas.js';
import { describeIssues } from '../src/shared/schemas.js';
import { createLogger } from '../src/config/logger.js';
import { livenessOfDetails } from '../src/client/step-liveness.js';
import { runningText } from '../src/cli/pipelines/experiments.js';
import { markedProcesses } from './support/procs.js';
import { applicationFailureOf } from './support/failures.js';

// Progress-based liveness with real processes: a program alive but silent is stopped as
// StepStalled; one that keeps printing, or keeps growing a file, is left alone.

const MARK = 'SHEPHERD_TEST_MARKER';
const logger = createLogger('silent', 'liveness-test');
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'shepherd-liveness-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function setup(info: Partial<Info> = {}) {
  const dir = mkdtempSync(path.join(tmp, 'case-'));
  const deps: ActivityDeps = {
    pool: undefined as unknown as pg.Pool,
    runsDir: path.join(dir, 'runs'),
    procDir: path.join(dir, 'procs'),
    logger,
  };
  const env = new MockActivityEnvironment(
    {
      workflowExecution: { workflowId: `wf-${randomUUID().slice(0, 8)}`, runId: randomUUID() },
      activityId: 'step-1',
      startToCloseTimeoutMs: 120_000,
      heartbeatTimeoutMs: 600,
      ...info,
    },
    { logger: new DefaultLogger('ERROR') },
  );
  const beats: CommandHeartbeat[] = [];
  env.on('heartbeat', (d: CommandHeartbeat) => beats.push(d));
  const { runCommand } = createCommandActivities(deps);
  return { dir, beats, run: (spec: CommandSpec) => env.run(runCommand, spec) as Promise<CommandResult> };
}

const sh = (script: string, marker: string, extra: Partial<CommandSpec> = {}): CommandSpec => ({
  command: '/bin/sh',
  args: ['-c', script],
  env: { [MARK]: marker },
  graceMs: 300,
  resultRequired: false,
  ...extra,
});

describe('progressTimeout: alive but hung is stopped, slow is not', () => {
  it('a program that prints once and then sleeps silently is stopped as StepStalled (retryable), with its last line, leaving no process', async () => {
    const c = setup();
    const marker = randomUUID();
    const f = await applicationFailureOf(c.run(sh('echo "loading shard 7"; sleep 600', marker, { progressTimeout: '3s' })));
    expect(f.type).toBe('StepStalled');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toMatch(/stalled: no output line and no growth of its workspace files for \d+s \(progressTimeout 3s\)/);
    expect(f.message).toContain('last output line: "loading shard 7"');
    const d = f.details?.[0] as StepFailureDetails;
    expect(d).toMatchObject({ stalled: true, timedOut: false, possibleOomKill: false, lastOutputLine: 'loading shard 7' });
    expect(d.silentMs).toBeGreaterThanOrEqual(3000);
    expect(markedProcesses(MARK, marker)).toEqual([]);
    // The heartbeats told "running" from "no output" from "stalled", in that order.
    const states = c.beats.map((b) => b.state);
    const firstQuiet = states.findIndex((s) => s.includes('no output for'));
    const firstStalled = states.findIndex((s) => s.startsWith('stalled for'));
    expect(states.findIndex((s) => /^running \d+ms$|^running \d+s$/.test(s))).toBeGreaterThanOrEqual(0);
    expect(firstQuiet).toBeGreaterThan(0);
    expect(firstStalled).toBeGreaterThan(firstQuiet);
    expect(c.beats[firstStalled]).toMatchObject({ progressTimeoutMs: 3000, lastOutputLine: 'loading shard 7' });
    expect(c.beats[firstStalled].silentMs).toBeGreaterThanOrEqual(3000);
  });

  it('a stalled program that exits 0 on SIGTERM still fails as StepStalled', async () => {
    const c = setup();
    const marker = randomUUID();
    const f = await applicationFailureOf(c.run(sh('trap "exit 0" TERM; sleep 600 & wait', marker, { progressTimeout: '1s' })));
    expect(f.type).toBe('StepStalled');
    expect(f.message).toContain('it printed nothing');
    expect(markedProcesses(MARK, marker)).toEqual([]);
  });

  it('a slow program that keeps printing is not stopped, and its longest silence is reported', async () => {
    const c = setup();
    const marker = randomUUID();
    const r = await c.run(
      sh('i=0; while [ $i -lt 30 ]; do echo "epoch $i"; sleep 0.1; i=$((i+1)); done', marker, { progressTimeout: '2s' }),
    );
    expect(r.exitCode).toBe(0);
    expect(r.longestSilenceMs).toBeLessThan(2000);
    expect(c.beats.every((b) => !b.state.startsWith('stalled'))).toBe(true);
  });

  it('a program that prints nothing but keeps growing a file in its workspace is not stopped', async () => {
    const c = setup();
    const marker = randomUUID();
    const r = await c.run(
      sh('i=0; while [ $i -lt 40 ]; do echo "row $i" >> data/out.csv; sleep 0.1; i=$((i+1)); done', marker, {
        progressTimeout: '2s',
        files: [{ path: 'data/.keep', content: '' }],
      }),
    );
    expect(r.exitCode).toBe(0);
    expect(markedProcesses(MARK, marker)).toEqual([]);
  });

  it('without progressTimeout a silent program is left alone, and its silence is still measured', async () => {
    const c = setup();
    const r = await c.run(sh('echo start; sleep 1.5; echo end', randomUUID()));
    expect(r.exitCode).toBe(0);
    expect(r.longestSilenceMs).toBeGreaterThanOrEqual(1000);
    expect(c.beats.at(-1)).toMatchObject({ progressTimeoutMs: null });
  });

  it("with evidence 'progress', output lines are no sign of life: only the caller's progress records are", async () => {
    const dir = mkdtempSync(path.join(tmp, 'progress-'));
    const marker = randomUUID();
    const liveness = new StepLiveness('progress');
    const outcome = await executeStep(sh('while true; do echo "still loading"; sleep 0.1; done', marker, { progressTimeout: '2s' }), {
      workspace: dir,
      liveness,
      sampleIntervalMs: 200,
      onStdoutLine: () => undefined,
    });
    expect(outcome.stalled).toMatchObject({ evidence: 'progress', progressTimeoutMs: 2000 });
    expect(outcome.lastOutputLine).toBe('still loading');
    expect(markedProcesses(MARK, marker)).toEqual([]);
  });
});

describe('progressTimeout: validated at the edge, named in errors', () => {
  it('the command spec refuses a zero, malformed or absurd progressTimeout', () => {
    for (const bad of ['0s', '500ms', '30 parsecs', '8d', 0, -5]) {
      expect(() => parseCommandSpec({ command: 'true', progressTimeout: bad }), String(bad)).toThrow(/progressTimeout/);
    }
    expect(parseCommandSpec({ command: 'true', progressTimeout: '5m' }).progressTimeout).toBe('5m');
  });

  it('each pipeline accepts it and refuses one not shorter than the timeout it sits under', () => {
    const exp = (e: object, batch: object = {}) =>
      experimentBatchSchema.safeParse({ batchId: 'b', experiments: [{ name: 'a', command: 'node', ...e }], ...batch });
    expect(exp({ progressTimeout: '5m' }).success).toBe(true);
    const over = exp({ progressTimeout: '40m' });
    expect(over.success).toBe(false);
    expect(describeIssues(over.error!)).toMatch(/experiments\.0\.progressTimeout: must be shorter than experimentTimeout/);
    expect(describeIssues(exp({ progressTimeout: '2m', timeout: '1m' }).error!)).toMatch(
      /experiments\.0\.progressTimeout: must be shorter than timeout/,
    );
    expect(describeIssues(exp({ progressTimeout: '0s' }).error!)).toMatch(/experiments\.0\.progressTimeout/);

    const sim = (p: unknown) =>
      simulationJobSchema.safeParse({
        jobId: 'j',
        replicate: { command: 'node', progressTimeout: p },
        parameters: [{ values: { a: 1 } }],
        replicates: 1,
        aggregate: { fields: ['x'] },
      });
    expect(sim('1m').success).toBe(true);
    expect(describeIssues(sim('20m').error!)).toMatch(/replicate\.progressTimeout: must be shorter than replicateTimeout/);

    const job = (p: unknown) =>
      trainingJobSchema.safeParse({ jobId: 't', dataset: 'd.csv', steps: 10, evalInterval: 5, checkpointInterval: 5, progressTimeout: p });
    expect(job('10m').success).toBe(true);
    expect(describeIssues(job('48h').error!)).toMatch(/progressTimeout: must be shorter than timeout/);
    expect(describeIssues(job('tomorrow').error!)).toMatch(/progressTimeout/);
  });
});

describe('describing silence and recommending a progressTimeout', () => {
  it('says running, no output / no progress, or stalled', () => {
    expect(describeLiveness({ elapsedMs: 240_000, silentMs: 2000 })).toBe('running 4m');
    expect(describeLiveness({ elapsedMs: 540_000, silentMs: 120_000 })).toBe('running 9m, no output for 2m');
    expect(describeLiveness({ elapsedMs: 540_000, silentMs: 120_000, progressTimeoutMs: 300_000, evidence: 'progress' })).toBe(
      'running 9m, no progress for 2m (progressTimeout 5m)',
    );
    expect(describeLiveness({ elapsedMs: 600_000, silentMs: 300_000, progressTimeoutMs: 300_000 })).toMatch(
      /^stalled for 5m: no output \(progressTimeout 5m\)/,
    );
  });

  it('recommends max(3 × longest silence, 1m), rounded up, only from enough samples', () => {
    expect(recommendProgressTimeout(4, 100_000)).toMatchObject({ recommended: null, note: expect.stringMatching(/at least 5/) });
    expect(recommendProgressTimeout(5, 100_000)).toMatchObject({ recommendedMs: 300_000, recommended: '5m' });
    expect(recommendProgressTimeout(12, 2_000)).toMatchObject({ recommended: '1m' });
    expect(recommendProgressTimeout(12, 130_001)).toMatchObject({ recommended: '7m' });
  });
});

describe('reading liveness from heartbeat details', () => {
  it("takes runCommand's fields from the top and trainModel's from `liveness`; anything else is no liveness", () => {
    expect(
      livenessOfDetails({
        elapsedMs: 5000,
        rssBytes: 1,
        lastOutputLine: 'x',
        silentMs: 4000,
        longestSilenceMs: 4000,
        progressTimeoutMs: null,
        state: 'running 5s',
      }),
    ).toEqual({
      elapsedMs: 5000,
      silentMs: 4000,
      progressTimeoutMs: null,
      evidence: 'output',
      lastOutputLine: 'x',
    });
    expect(
      livenessOfDetails({ step: 3, liveness: { silentMs: 70_000, longestSilenceMs: 70_000, progressTimeoutMs: 600_000, state: '' } }),
    ).toMatchObject({ silentMs: 70_000, progressTimeoutMs: 600_000, evidence: 'progress' });
    expect(
      livenessOfDetails({
        done: 3,
        failed: 0,
        running: 2,
        quietest: { replicate: 17, silentMs: 90_000, progressTimeoutMs: null, state: '' },
      }),
    ).toMatchObject({ silentMs: 90_000, evidence: 'output', subject: 'replicate 17' });
    expect(livenessOfDetails('preparing environment')).toBeNull();
    expect(livenessOfDetails({ analyzer: 'eslint', phase: 'running', elapsedMs: 1 })).toBeNull();
  });

  it('the experiments CLI says running, silent or stalled, and names the failure a retry follows', () => {
    const now = 1_000_000;
    const o = { name: 'knn', status: 'running' as const, startedAt: now - 600_000 };
    const step = (silentMs: number, extra = {}) => ({
      activityId: '1',
      activityType: 'runExperiment',
      attempt: 1,
      elapsedMs: 0,
      silentMs,
      progressTimeoutMs: 300_000,
      evidence: 'output' as const,
      lastOutputLine: null,
      lastFailure: null,
      lastFailureType: null,
      ...extra,
    });
    expect(runningText(o, now)).toBe('running 600s');
    expect(runningText({ ...o, step: step(1000) }, now)).toBe('running 600s');
    expect(runningText({ ...o, step: step(120_000) }, now)).toBe('running 10m, no output for 2m (progressTimeout 5m)');
    expect(runningText({ ...o, step: step(300_000) }, now)).toMatch(/^stalled for 5m: no output/);
    expect(runningText({ ...o, step: step(0, { attempt: 2, lastFailureType: 'StepStalled' }) }, now)).toBe(
      'running 600s (attempt 2, after StepStalled)',
    );
  });
});
