import { randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startExperimentBatch } from '../src/client/experiments.js';
import { EXIT } from '../src/shared/exit-codes.js';
import { startTestWorker, type TestWorker } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';

// `shepherd experiments watch` under a pseudo-terminal (util-linux `script`): a progress bar
// whose done/total advances as experiments finish, then the result table.

let w: TestWorker;
beforeAll(async () => {
  w = await startTestWorker();
});
afterAll(() => w?.stop());

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

describe('watch on a terminal', () => {
  it('draws a cli-progress bar that advances from 0/4 to 4/4', async () => {
    const id = `tty-${randomUUID().slice(0, 8)}`;
    const step = (n: string) => nodeExperiment(n, 'setTimeout(() => done({ accuracy: 0.9 }), 1500)');
    await startExperimentBatch(
      w.client,
      { batchId: id, maxConcurrency: 1, experiments: ['a', 'b', 'c', 'd'].map(step) },
      { taskQueue: w.taskQueue },
    );
    // The command line is built from constants and a generated ID only.
    const argv = [
      process.execPath,
      '--import',
      'tsx',
      'src/cli/main.ts',
      '--address',
      inject('temporalAddress'),
      'experiments',
      'watch',
      id,
    ];
    const r = await execa('script', ['-qfec', argv.map(quote).join(' '), '/dev/null'], {
      reject: false,
      timeout: 110_000,
      env: { COLUMNS: '160', TERM: 'xterm' },
    });
    expect(r.exitCode, r.stdout.slice(-2000)).toBe(EXIT.ok);
    const seen = [...r.stdout.matchAll(/(\d)\/4 \| [\d.]+\/min \| ETA/g)].map((m) => Number(m[1]));
    expect(seen.length).toBeGreaterThan(1);
    expect(new Set(seen).size).toBeGreaterThanOrEqual(3);
    expect(seen.at(-1)).toBe(4);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    expect(r.stdout).toContain('COMPLETED: all 4 experiments succeeded');
  });
});
