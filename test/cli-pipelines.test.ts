import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EXIT } from '../src/shared/exit-codes.js';
import { startTestWorker, tempDir, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';
import { shJob, writeReplicateScript } from './support/simulation.js';
import { waitFor } from './support/procs.js';

// `shepherd <pipeline> <verb>` as a user runs it (a real process against the suite's server and a
// real worker): output and the documented exit codes for every outcome.

let w: TestWorker;
const dir = () => tempDir('cli');
const uid = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(() => w?.stop());

function shepherd(args: string[], opts: { env?: Record<string, string> } = {}) {
  return execa(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', '--address', inject('temporalAddress'), '--task-queue', w.taskQueue, ...args],
    { reject: false, env: opts.env, timeout: 110_000 },
  );
}

function file(name: string, value: unknown): string {
  const f = path.join(dir(), name);
  writeFileSync(f, JSON.stringify(value));
  return f;
}

describe('shepherd experiments', () => {
  it('run: all failed exits 3 with the FAILED headline; partly failed exits 4; status and results agree', async () => {
    const allId = uid('cli-all');
    const partlyId = uid('cli-partly');
    const all = file('all.json', {
      batchId: allId,
      retry: { maximumAttempts: 1 },
      experiments: [
        nodeExperiment('a', 'process.exit(3)'),
        nodeExperiment(
          'b',
          `console.error('the reason is here, after a long prefix that used to be cut at one hundred characters exactly'); process.exit(4)`,
        ),
      ],
    });
    const partly = file('partly.json', {
      batchId: partlyId,
      retry: { maximumAttempts: 1 },
      experiments: [nodeExperiment('ok', 'done({ accuracy: 0.5 })'), nodeExperiment('bad', 'process.exit(3)')],
    });

    const [r1, r2] = await Promise.all([shepherd(['experiments', 'run', all]), shepherd(['experiments', 'run', partly])]);
    expect(r1.exitCode, r1.stderr).toBe(EXIT.failed);
    expect(r1.stdout).toContain('FAILED: 2 of 2 experiments failed');
    expect(r1.stdout).toContain('used to be cut at one hundred characters exactly');
    expect(r2.exitCode, r2.stderr).toBe(EXIT.partlyFailed);
    expect(r2.stdout).toContain('PARTLY FAILED: 1 of 2 experiments failed');

    const s1 = await shepherd(['experiments', 'status', allId, '--json']);
    expect(s1.exitCode).toBe(EXIT.failed);
    expect(JSON.parse(s1.stdout)).toMatchObject({ status: 'FAILED', stage: 'failed', outcome: 'failed' });
    const s2 = await shepherd(['experiments', 'results', partlyId, '--json']);
    expect(s2.exitCode).toBe(EXIT.partlyFailed);
    expect(JSON.parse(s2.stdout)).toMatchObject({ status: 'completed_with_failures', succeeded: 1, failed: 1 });
  });

  it('run --detach, cancel, then watch exits 5 (cancelled); elapsed stops when the step ends', async () => {
    const id = uid('cli-cancel');
    const f = file('slow.json', { batchId: id, experiments: [nodeExperiment('slow', 'setTimeout(() => done({ accuracy: 1 }), 120000)')] });
    const started = await shepherd(['experiments', 'run', f, '--detach']);
    expect(started.exitCode, started.stderr).toBe(EXIT.ok);
    expect(started.stdout).toContain(`experiment-batch-${id}`);
    const handle = w.client.workflow.getHandle(`experiment-batch-${id}`);
    await waitFor(async () => (await handle.query<{ status: string }[]>('progress'))[0].status === 'running', 'step running');
    const cancelled = await shepherd(['experiments', 'cancel', id]);
    expect(cancelled.exitCode).toBe(EXIT.ok);
    const watched = await shepherd(['experiments', 'watch', id]);
    expect(watched.exitCode, watched.stderr).toBe(EXIT.cancelled);
    const status = await shepherd(['experiments', 'status', id]);
    expect(status.exitCode).toBe(EXIT.cancelled);
    expect(status.stdout).toMatch(/slow\s+cancelled after \d+s/);
  });

  it('unknown IDs exit 6, bad input exits 2 naming the field, an unreachable server exits 7 naming the address', async () => {
    const [status, results, cancel] = await Promise.all([
      shepherd(['experiments', 'status', 'no-such-batch']),
      shepherd(['simulation', 'results', 'no-such-job']),
      shepherd(['training', 'queue', 'no-such-queue']),
    ]);
    for (const r of [status, results, cancel]) {
      expect(r.exitCode, r.stderr).toBe(EXIT.notFound);
      expect(r.stderr).toMatch(/no workflow .*no-such/);
    }
    const bad = await shepherd(['experiments', 'validate', file('bad.json', { batchId: 'x', experiments: [{ name: 'a' }] })]);
    expect(bad.exitCode).toBe(EXIT.badInput);
    expect(bad.stderr).toMatch(/experiments\.0\.command/);
    const down = await execa(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', '--address', '127.0.0.1:1', 'experiments', 'status', 'x'],
      { reject: false },
    );
    expect(down.exitCode).toBe(EXIT.unreachable);
    expect(down.stderr).toContain('cannot reach the Temporal server at 127.0.0.1:1');
  });
});

describe('shepherd simulation', () => {
  it('run of a job whose every parameter set fails exits 3; --json prints the result', async () => {
    const script = writeReplicateScript();
    const job = shJob(script, {
      jobId: uid('cli-sim'),
      parameters: [{ values: { mode: 'import-error' } }],
      replicates: 2,
      replicateRetry: { maximumAttempts: 1 },
    });
    const r = await shepherd(['simulation', 'run', file('sim.json', job), '--json']);
    expect(r.exitCode, r.stderr).toBe(EXIT.failed);
    expect(JSON.parse(r.stdout)).toMatchObject({ jobId: job.jobId, status: 'failed' });
  });
});
