import { ApplicationFailure } from '@temporalio/activity';
import type { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { startAnalysisPipeline } from '../../src/client/analysis.js';
import { createPool } from '../../src/db/pool.js';
import { connectTestClient } from '../support/harness.js';
import { scrape, sumOf, type Sample } from '../support/metrics.js';
import { waitFor } from '../support/procs.js';
import { pipelineInput, startFakeWorker, uniquePipelineId, type FakeWorker } from './pipeline-fakes.js';

// The breakers' states at the worker's Prometheus endpoint (shepherd_breaker_state): the test
// harness installs this file's SDK runtime with the worker entry point's exporter settings at the
// address chosen here (before the harness is imported), and the analysis workflow runs on the
// fake analyzers of pipeline-fakes.

const metricsUrl = await vi.hoisted(async () => {
  const { freePort } = await import('../../scripts/lib/free-port.js');
  process.env.SHEPHERD_METRICS_ADDRESS = `127.0.0.1:${await freePort()}`;
  return `http://${process.env.SHEPHERD_METRICS_ADDRESS}/metrics`;
});

let client: Client;
let connection: Connection;
let pool: pg.Pool;
let w: FakeWorker;
/** Lets the held target finish; also called at the end, so a failed assertion does not leave the worker unable to stop. */
let release: () => void = () => undefined;

beforeAll(async () => {
  ({ client, connection } = await connectTestClient());
  pool = createPool(inject('databaseUrl'));
  w = await startFakeWorker(client, pool);
});
afterAll(async () => {
  release();
  await w?.stop();
  await connection?.close();
  await pool?.end();
});

const state = (samples: Sample[], pipelineId: string, breaker: string, s: string) =>
  sumOf(samples, 'shepherd_breaker_state', { pipeline_id: pipelineId, breaker, state: s });

describe('breaker metrics', () => {
  it('exports each breaker as a state set: open while tripped, every series 0 once the pipeline has ended', async () => {
    const gate = new Promise<void>((r) => (release = r));
    w.controls.analyzer = async (input) => {
      if (input.analyzer === 'static') throw ApplicationFailure.nonRetryable('eslint crashed', 'CommandFailed');
      if (input.target.model === 'claude-3-5-haiku' && input.target.app === '2') await gate;
    };
    const id = uniquePipelineId('bmetric');
    const h = await startAnalysisPipeline(
      client,
      pipelineInput(id, 3, {
        concurrency: 1,
        analyzers: [
          { name: 'static', retry: { maximumAttempts: 1 } },
          { name: 'ai-review', retry: { maximumAttempts: 1 } },
        ],
        breakers: { analyzerFailureThreshold: 2, analyzerCooldownTargets: 100, analyzerCooldown: '1h' },
      }),
      { taskQueue: w.taskQueue },
    );
    const open = await waitFor(async () => {
      const s = await scrape(metricsUrl);
      return state(s, id, 'static', 'open') === 1 ? s : undefined;
    }, 'static breaker exported as open');
    expect(state(open, id, 'static', 'closed')).toBe(0);
    expect(state(open, id, 'ai-review', 'closed')).toBe(1);
    expect(state(open, id, 'pipeline', 'closed')).toBe(1);
    // The SDK adds the workflow's own labels.
    const series = open.find((s) => s.name === 'shepherd_breaker_state' && s.labels.pipeline_id === id);
    expect(series?.labels).toMatchObject({ workflowType: 'analysisPipeline', taskQueue: w.taskQueue });

    release();
    await h.result();
    const ended = await waitFor(async () => {
      const s = await scrape(metricsUrl);
      return state(s, id, 'static', 'open') === 0 ? s : undefined;
    }, 'breaker series zeroed at the end');
    expect(sumOf(ended, 'shepherd_breaker_state', { pipeline_id: id })).toBe(0);
  });
});
