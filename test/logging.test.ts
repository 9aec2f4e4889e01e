import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createCommandActivities } from '../src/activities/step/command.js';
import { createLogger, type Logger } from '../src/config/logger.js';
import { tempDir } from './support/harness.js';
import { waitFor } from './support/procs.js';

// Log lines as an operator's log pipeline sees them: JSON, errors with message, type, cause and
// stack, one pid, and the workflow and activity on every line a step writes.

/** The file's JSON lines once at least `min` were written (the destination is asynchronous). */
async function linesOf(logger: Logger, file: string, min: number): Promise<{ raw: string; json: Record<string, any> }[]> {
  logger.flush();
  const read = () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
  const raw = await waitFor(() => (read().length >= min ? read() : undefined), `${min} log lines in ${file}`, 10_000);
  return raw.map((r) => ({ raw: r, json: JSON.parse(r) }));
}

describe('logger', () => {
  it('serialises errors with message, class, failure type, cause chain and stack, under err and error', async () => {
    const file = path.join(tempDir('log'), 'errors.log');
    const logger = createLogger('info', 'test', file);
    const failure = ApplicationFailure.create({ message: 'step failed: exit 3', type: 'CommandFailed', cause: new Error('disk full') });
    logger.error({ err: failure }, 'from our code');
    logger.warn({ error: new TypeError('bad thing') }, 'from the SDK meta');
    const [a, b] = await linesOf(logger, file, 2);
    expect(a.json.err).toMatchObject({
      type: 'ApplicationFailure',
      failureType: 'CommandFailed',
      message: 'step failed: exit 3',
      cause: { message: 'disk full', type: 'Error' },
    });
    expect(a.json.err.stack).toContain('step failed: exit 3');
    expect(b.json.error).toMatchObject({ type: 'TypeError', message: 'bad thing' });
    expect(b.json.error.stack).toContain('TypeError: bad thing');
    for (const l of [a, b]) expect(l.raw.match(/"pid":/g)).toHaveLength(1);
  });

  it('every line a step writes names its workflow, activity and attempt; one pid each', async () => {
    const dir = tempDir('log-step');
    const file = path.join(dir, 'step.log');
    const logger = createLogger('info', 'test', file);
    const { runCommand } = createCommandActivities({
      pool: undefined as unknown as pg.Pool,
      runsDir: path.join(dir, 'runs'),
      procDir: path.join(dir, 'procs'),
      logger,
    });
    const env = new MockActivityEnvironment({
      workflowExecution: { workflowId: 'wf-logging', runId: 'r1' },
      workflowType: 'experimentRun',
      activityType: 'runExperiment',
      attempt: 2,
      startToCloseTimeoutMs: 60_000,
      heartbeatTimeoutMs: 30_000,
    });
    const err = await env.run(runCommand, { command: process.execPath, args: ['-e', 'process.exit(3)'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const lines = await linesOf(logger, file, 2);
    expect(lines.map((l) => l.json.msg)).toEqual(expect.arrayContaining(['step started', 'step finished']));
    for (const l of lines) {
      expect(l.json).toMatchObject({ workflowId: 'wf-logging', workflowType: 'experimentRun', activity: 'runExperiment', attempt: 2 });
      expect(l.raw.match(/"pid":/g)).toHaveLength(1);
    }
    expect(lines.find((l) => l.json.msg === 'step finished')?.json.exitCode).toBe(3);
  });
});
