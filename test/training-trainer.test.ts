import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { parseProgressLine, type ProgressEvent } from '../src/activities/training/protocol.js';
import { tempDir } from './support/harness.js';
import { waitFor } from './support/procs.js';

// The example trainer as a plain subprocess: the protocol it speaks, its checkpoints, exact
// resumption, and its answer to SIGTERM.
const TRAINER = path.resolve('examples/training/trainer.mjs');
const IRIS = path.resolve('examples/experiments/data/iris.csv');

function setup(over: Record<string, unknown> = {}) {
  const dir = tempDir('trainer');
  const config = {
    dataset: IRIS,
    validationFraction: 0.2,
    seed: 3,
    steps: 300,
    evalInterval: 50,
    checkpointInterval: 100,
    checkpointDir: path.join(dir, 'ck'),
    ...over,
  };
  const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  return { dir, file, config, resultFile: path.join(dir, 'result.json') };
}

async function train(file: string, resultFile: string) {
  const r = await execa(process.execPath, [TRAINER, '--config', file], { reject: false, env: { SHEPHERD_RESULT_FILE: resultFile } });
  const events = r.stdout
    .split('\n')
    .map(parseProgressLine)
    .map((p) => {
      expect(p.kind).toBe('event'); // every stdout line is protocol; logs go to stderr
      return (p as { event: ProgressEvent }).event;
    });
  return { ...r, events };
}

describe('example trainer', () => {
  it('trains, evaluates, checkpoints on schedule and writes its metrics to the result file', async () => {
    const s = setup();
    const r = await train(s.file, s.resultFile);
    expect(r.exitCode).toBe(0);
    expect(r.events[0]).toEqual({ event: 'start', step: 0, total_steps: 300, resumed_from: null });
    expect(r.events.filter((e) => e.event === 'checkpoint').map((e) => e.step)).toEqual([100, 200, 300]);
    expect(r.events.filter((e) => e.event === 'eval').map((e) => e.step)).toEqual([50, 100, 150, 200, 250, 300]);
    const losses = r.events.filter((e): e is Extract<ProgressEvent, { event: 'step' }> => e.event === 'step').map((e) => e.loss);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 2);
    const result = JSON.parse(readFileSync(s.resultFile, 'utf8'));
    expect(result).toMatchObject({ step: 300, totalSteps: 300, rows: { train: 120, validation: 30 } });
    expect(result.valLoss).toBeGreaterThan(0);
    expect(result.valAccuracy).toBeGreaterThan(0.8);
    expect(readdirSync(s.config.checkpointDir as string).sort()).toEqual([
      'step-00000100.json',
      'step-00000200.json',
      'step-00000300.json',
    ]);
  });

  it('resumes from a checkpoint exactly: the step count continues and the outcome equals an uninterrupted run', async () => {
    const full = setup();
    await train(full.file, full.resultFile);
    const half = setup({
      steps: 300,
      resumeFrom: path.join(full.config.checkpointDir as string, 'step-00000100.json'),
      checkpointDir: path.join(tempDir('trainer'), 'ck'),
    });
    const r = await train(half.file, half.resultFile);
    expect(r.exitCode).toBe(0);
    expect(r.events[0]).toMatchObject({ event: 'start', step: 100 });
    expect(r.events.find((e) => e.event === 'step')!.step).toBe(110);
    const a = JSON.parse(readFileSync(path.join(full.config.checkpointDir as string, 'step-00000300.json'), 'utf8'));
    const b = JSON.parse(readFileSync(path.join(half.config.checkpointDir as string, 'step-00000300.json'), 'utf8'));
    expect(b.model).toEqual(a.model);
    expect(JSON.parse(readFileSync(half.resultFile, 'utf8')).valLoss).toBe(JSON.parse(readFileSync(full.resultFile, 'utf8')).valLoss);
  });

  it('on SIGTERM saves a checkpoint at the current step and exits 143', async () => {
    const s = setup({ steps: 1_000_000, params: { stepDelayMs: 2 } });
    const child = execa(process.execPath, [TRAINER, '--config', s.file], { reject: false });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => out.includes('"step":50,'), 'the trainer to reach step 50');
    child.kill('SIGTERM');
    const r = await child;
    expect(r.exitCode).toBe(143);
    const last = parseProgressLine(out.trim().split('\n').at(-1)!);
    expect(last).toMatchObject({ kind: 'event', event: { event: 'checkpoint' } });
    const ckpt = (last as { event: { step: number; path: string } }).event;
    expect(ckpt.step).toBeGreaterThanOrEqual(50);
    expect(JSON.parse(readFileSync(ckpt.path, 'utf8')).step).toBe(ckpt.step);
  });

  it('reports val_loss null with the reason when the validation split is empty', async () => {
    const s = setup({ validationFraction: 0.001, steps: 100 });
    const r = await train(s.file, s.resultFile);
    expect(r.exitCode).toBe(0);
    const evals = r.events.filter((e) => e.event === 'eval');
    expect(evals.length).toBeGreaterThan(0);
    for (const e of evals) expect(e).toMatchObject({ val_loss: null, reason: expect.stringMatching(/validation set is empty/) });
    expect(JSON.parse(readFileSync(s.resultFile, 'utf8')).valLoss).toBeNull();
  });

  it('a configuration error exits 2 and says what is wrong', async () => {
    const s = setup({ dataset: path.join(tempDir('trainer'), 'missing.csv') });
    const r = await execa(process.execPath, [TRAINER, '--config', s.file], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/cannot read dataset .*missing\.csv/);
    const resumeOther = setup({ resumeFrom: path.join(s.dir, 'nope.json') });
    expect((await execa(process.execPath, [TRAINER, '--config', resumeOther.file], { reject: false })).exitCode).toBe(2);
  });
});
