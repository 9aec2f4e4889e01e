import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stepTails, workspaceRuns } from '../src/cli/step-logs.js';

function attempt(root: string, parts: string[], stdout: string) {
  const dir = path.join(root, ...parts);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'stdout.log'), stdout);
  writeFileSync(path.join(dir, 'stderr.log'), 'err\n');
}

// Run IDs as Temporal writes them; activity IDs numbered as Temporal numbers them, so a run
// directory's children look like attempt numbers too.
const OLD = '0190a1b2-0000-7000-8000-000000000001';
const NEW = '0190a1b2-0000-7000-8000-000000000002';

describe('shepherd <pipeline> logs: reading step workspaces', () => {
  it('reads the newest run of a workflow by default, another run when named, the latest attempt of each step', () => {
    const runs = mkdtempSync(path.join(os.tmpdir(), 'step-logs-'));
    attempt(runs, ['experiment-b-knn', OLD, '1', '1'], 'old run\n');
    attempt(runs, ['experiment-b-knn', NEW, '1', '1'], 'first attempt\n');
    attempt(runs, ['experiment-b-knn', NEW, '1', '2'], 'a\nb\nsecond attempt\n');
    utimesSync(path.join(runs, 'experiment-b-knn', OLD), new Date(1000), new Date(1000));

    expect(workspaceRuns(runs, 'experiment-b-knn').map((r) => r.runId)).toEqual([NEW, OLD]);
    expect(stepTails(runs, 'experiment-b-knn', { lines: 2 })).toEqual([
      { runId: NEW, step: '1', attempt: 2, stdout: ['b', 'second attempt'], stderr: ['err'] },
    ]);
    expect(stepTails(runs, 'experiment-b-knn', { lines: 5, runId: OLD })[0]!.stdout).toEqual(['old run']);
    expect(stepTails(runs, 'experiment-b-knn', { lines: 5, runId: 'no-such-run' })).toEqual([]);
    expect(stepTails(runs, 'experiment-b-knn', { lines: 5, step: 'missing' })).toEqual([]);
  });

  it('still reads trees written without a run segment, and never leaves the runs dir', () => {
    const runs = mkdtempSync(path.join(os.tmpdir(), 'step-logs-'));
    attempt(runs, ['experiment-b-tree', 'run', '1'], 'legacy\n');
    expect(stepTails(runs, 'experiment-b-tree', { lines: 5 })).toEqual([
      { runId: null, step: 'run', attempt: 1, stdout: ['legacy'], stderr: ['err'] },
    ]);
    expect(stepTails(runs, '../..', { lines: 5 })).toEqual([]);
  });
});
