import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTool, type AnalyzerEnv } from '../../src/activities/analysis/step.js';
import { tempDir } from '../support/harness.js';
import { applicationFailureOf } from '../support/failures.js';
import { markedProcesses } from '../support/procs.js';

// An analyzer's progressTimeout reaches the tools it runs: a tool alive but silent is stopped
// and the attempt fails StepStalled, even when the tool answers the stop with an "ok" exit code.

const MARK = 'SHEPHERD_TEST_MARKER';

function env(progressTimeout?: string): AnalyzerEnv {
  const workspace = tempDir('analyzer-stall');
  return {
    analyzer: 'static',
    workspace,
    signal: new AbortController().signal,
    procDir: path.join(workspace, 'procs'),
    sampleIntervalMs: 200,
    heartbeat: () => undefined,
    attempt: 1,
    ...(progressTimeout ? { progressTimeout } : {}),
  };
}

const hangingTool = (marker: string) => ({
  command: '/bin/sh',
  // ESLint-like: exits 1 ("found problems", an ok answer here) when it is told to stop.
  args: ['-c', 'echo "linting 412 files"; trap "exit 1" TERM; sleep 600 & wait'],
  env: { [MARK]: marker },
  graceMs: 300,
});

describe('analyzer progressTimeout', () => {
  it('stops a tool that went silent and fails the attempt StepStalled (retryable), leaving no process', async () => {
    const marker = randomUUID();
    const e = env('1s');
    const f = await applicationFailureOf(
      runTool(e, 'eslint', hangingTool(marker), { cwd: path.join(e.workspace, 'tool'), okExitCodes: [0, 1] }),
    );
    expect(f.type).toBe('StepStalled');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toContain('last output line: "linting 412 files"');
    expect(markedProcesses(MARK, marker)).toEqual([]);
  });
});
