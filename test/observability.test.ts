import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExperimentBatch } from '../src/client/experiments.js';
import { batchResult } from '../src/client/outcome.js';
import type { ExperimentBatchResult } from '../src/shared/experiments/schemas.js';
import { freePort } from '../scripts/lib/free-port.js';
import { connectTestClient, tempDir, uniqueQueue } from './support/harness.js';
import { nodeExperiment } from './support/experiments.js';
import { scrape, sumOf } from './support/metrics.js';
import { waitFor } from './support/procs.js';
import { spawnWorkerProcess, type WorkerProcess } from './support/worker-process.js';

// The real worker entry point with SHEPHERD_METRICS_ADDRESS and OTEL_EXPORTER_OTLP_ENDPOINT set:
// its Prometheus endpoint is scraped, and its spans arrive at a local OTLP/HTTP receiver.

interface OtlpSpan {
  name: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

/** A minimal OTLP/HTTP trace receiver: accepts JSON ExportTraceServiceRequest bodies on /v1/traces. */
async function startOtlpReceiver() {
  const spans: { service: string; span: OtlpSpan }[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && req.method === 'POST') {
        contentTypes.push(String(req.headers['content-type']));
        const msg = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: { stringValue?: string } }[] };
            scopeSpans: { spans: OtlpSpan[] }[];
          }[];
        };
        for (const rs of msg.resourceSpans ?? []) {
          const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) spans.push({ service, span });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    contentTypes,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let worker: WorkerProcess;
let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
let metricsUrl: string;
const taskQueue = uniqueQueue('obs');

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  const address = `127.0.0.1:${await freePort()}`;
  metricsUrl = `http://${address}/metrics`;
  worker = spawnWorkerProcess({
    taskQueue,
    dataDir: tempDir('obs'),
    env: { SHEPHERD_METRICS_ADDRESS: address, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
  });
  await worker.ready;
});
afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.exited;
  await otlp?.close();
});

describe('worker observability', () => {
  it('exports SDK and Shepherd step metrics at SHEPHERD_METRICS_ADDRESS and traces to the OTLP endpoint', async () => {
    const { client, connection } = await connectTestClient();
    try {
      const id = `obs-${randomUUID().slice(0, 8)}`;
      const handle = await startExperimentBatch(
        client,
        {
          batchId: id,
          retry: { maximumAttempts: 2, initialInterval: '100ms' },
          experiments: [nodeExperiment('ok', 'done({ accuracy: 1 })'), nodeExperiment('bad', 'process.exit(3)')],
        },
        { taskQueue },
      );
      const result = await batchResult<ExperimentBatchResult>(handle);
      expect(result.status).toBe('completed_with_failures');
    } finally {
      await connection.close();
    }

    const samples = await waitFor(async () => {
      const s = await scrape(metricsUrl);
      return s.some((x) => x.name === 'shepherd_steps_failed_total') ? s : undefined;
    }, 'step metrics exported');
    const sum = (name: string, match: Record<string, string> = {}) => sumOf(samples, name, match);
    const step = { pipeline: 'experimentRun', step: 'runExperiment' };
    // ok: 1 attempt; bad: 2 attempts (exit 3 is retryable), the second a retry.
    expect(sum('shepherd_steps_started_total', step)).toBe(3);
    expect(sum('shepherd_steps_succeeded_total', step)).toBe(1);
    expect(sum('shepherd_steps_failed_total', { ...step, failure_type: 'CommandFailed' })).toBe(2);
    expect(sum('shepherd_steps_retried_total', step)).toBe(1);
    expect(sum('shepherd_step_duration_count', step)).toBe(3);
    expect(samples.some((s) => s.name === 'shepherd_step_duration_bucket' && s.labels.le !== undefined)).toBe(true);
    // Result bookkeeping activities are steps of the batch workflows too.
    expect(sum('shepherd_steps_succeeded_total', { pipeline: 'experimentBatch', step: 'recordBatch' })).toBeGreaterThanOrEqual(2);
    // The start-up reaper reports even when it found nothing.
    expect(samples.some((s) => s.name === 'shepherd_orphans_reaped_total')).toBe(true);
    // The SDK's own worker metrics share the endpoint.
    expect(samples.some((s) => s.name.startsWith('temporal_activity_execution'))).toBe(true);

    const spans = await waitFor(() => {
      const names = otlp.spans.filter((s) => s.service === 'shepherd-worker').map((s) => s.span.name);
      return names.filter((n) => n.includes('runExperiment')).length >= 3 ? names : undefined;
    }, 'activity spans received');
    expect(spans.filter((n) => n.includes('runExperiment'))).toHaveLength(3);
    expect(otlp.contentTypes[0]).toContain('application/json');
  });
});
