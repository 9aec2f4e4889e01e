import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { analysisHandle } from '../../src/client/analysis.js';
import { createPool } from '../../src/db/pool.js';
import { connectTestClient, tempDir } from '../support/harness.js';
import { busy, pipelineInput, startFakeWorker, uniquePipelineId, type FakeWorker } from './pipeline-fakes.js';

// `shepherd analysis ...` as a user runs it (the real CLI entry point in a subprocess) against a
// pipeline on the dev server: run --detach, status with breakers, reset, findings from PostgreSQL, cancel.

let client: Client;
let connection: Connection;
let pool: pg.Pool;
let w: FakeWorker;

beforeAll(async () => {
  ({ client, connection } = await connectTestClient());
  pool = createPool(inject('databaseUrl'));
  w = await startFakeWorker(client, pool);
});
afterAll(async () => {
  await w?.stop();
  await connection?.close();
  await pool?.end();
});

const cli = (args: string[]) =>
  execa('npx', ['tsx', 'src/cli/main.ts', '--address', inject('temporalAddress'), '--task-queue', w.taskQueue, 'analysis', ...args], {
    env: { DATABASE_URL: inject('databaseUrl'), SHEPHERD_LOG_LEVEL: 'error' },
    reject: false,
  });

describe('shepherd analysis', () => {
  it('run --detach, status, reset, findings, cancel', async () => {
    // The app-2 targets' ai-review runs until cancelled (heartbeating, so the cancel reaches it).
    w.controls.analyzer = async (input) => {
      if (input.analyzer === 'static') throw new Error('eslint crashed');
      if (input.target.app === '2' && input.analyzer === 'ai-review') await busy(600_000);
    };
    const id = uniquePipelineId('cli');
    const file = path.join(tempDir('analysis-cli'), 'pipeline.json');
    writeFileSync(
      file,
      JSON.stringify(
        pipelineInput(id, 4, {
          concurrency: 2,
          notify: false,
          analyzers: [{ name: 'static', retry: { maximumAttempts: 1 } }, { name: 'ai-review' }],
          breakers: { analyzerFailureThreshold: 2, analyzerCooldownTargets: 100 },
        }),
      ),
    );

    const run = await cli(['run', file, '--detach']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(`started analysis-pipeline-${id}`);
    const h = analysisHandle(client, id);
    for (let i = 0; i < 300 && (await h.progress()).targets.filter((t) => t.status === 'running').length < 2; i++)
      await new Promise((r) => setTimeout(r, 100));

    const status = await cli(['status', id]);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`analysis-pipeline-${id}: RUNNING`));
    expect(status.stdout).toMatch(/claude-3-5-haiku\/1\s+partial/);
    expect(status.stdout).toMatch(/static breaker: open \(2 consecutive failures; last: .*eslint crashed/);

    const reset = await cli(['reset', id, 'static']);
    expect(reset.exitCode, reset.stderr).toBe(0);
    expect(reset.stdout).toMatch(/reset: static\n[\s\S]*static breaker: closed/);
    const bad = await cli(['reset', id, 'fuzzing']);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr, `${bad.stderr}\n${JSON.stringify((await h.raw.describe()).status)}`).toMatch(
      /breaker must be "pipeline", "all" or a configured analyzer/,
    );

    const findings = await cli(['findings', id]);
    expect(findings.exitCode, findings.stderr).toBe(0);
    expect(findings.stdout).toMatch(/claude-3-5-haiku\/1\s+partial\s+1/);
    expect(findings.stdout).toMatch(/claude-3-5-haiku\/2\s+running/);

    const cancel = await cli(['cancel', id]);
    expect(cancel.stdout).toContain(`cancellation requested for analysis-pipeline-${id}`);
    await expect(h.result()).rejects.toThrow();
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM analysis_targets WHERE pipeline_id = $1 AND status = 'cancelled'", [
      id,
    ]);
    expect(rows[0].n).toBe(2);
  });
});
