import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/config/logger.js';
import { createNotifyActivities, formatSummaryTable, WEBHOOK_UNSET_REASON } from '../src/activities/notify.js';

/** A real HTTP endpoint; each test sets how it answers. */
interface Receiver {
  url: string;
  requests: { method?: string; headers: http.IncomingHttpHeaders; body: any }[];
  respond: (res: http.ServerResponse) => void;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const r: Receiver = { url: '', requests: [], respond: (res) => res.writeHead(200).end('ok'), close: async () => {} };
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      r.requests.push({ method: req.method, headers: req.headers, body: JSON.parse(data) });
      r.respond(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // The path stands in for the secret part of a Slack webhook URL.
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T0/B0/SECRETTOKEN`;
  r.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

const depsFor = (webhookUrl?: string) => ({
  pool: undefined as unknown as pg.Pool,
  runsDir: '/nonexistent/runs',
  procDir: '/nonexistent/procs',
  logger: createLogger('silent'),
  webhookUrl,
});

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(String((err as Error).message)).not.toContain('SECRETTOKEN');
  return err as ApplicationFailure;
}

describe('notifyWebhook', () => {
  let hook: Receiver;
  beforeAll(async () => {
    hook = await startReceiver();
  });
  afterAll(async () => {
    await hook?.close();
  });
  beforeEach(() => {
    hook.requests.length = 0;
    hook.respond = (res) => res.writeHead(200).end('ok');
  });

  it('posts a Slack-compatible payload: text, header, section and the table in a code block', async () => {
    const { notifyWebhook } = createNotifyActivities(depsFor(hook.url));
    const result = await notifyWebhook({
      title: 'Batch seed-000: completed_with_failures',
      text: '7 succeeded, 1 failed',
      table: {
        rows: [
          { experiment: 'rf', accuracy: 0.91 },
          { experiment: 'v4_4', accuracy: null },
        ],
      },
    });
    expect(result).toEqual({ sent: true, status: 200 });
    expect(hook.requests).toHaveLength(1);
    const req = hook.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.headers['content-type']).toBe('application/json');
    expect(Object.keys(req.body).sort()).toEqual(['blocks', 'text']);
    expect(req.body.text).toBe('7 succeeded, 1 failed');
    expect(req.body.blocks).toEqual([
      { type: 'header', text: { type: 'plain_text', text: 'Batch seed-000: completed_with_failures' } },
      { type: 'section', text: { type: 'mrkdwn', text: '7 succeeded, 1 failed' } },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: '```\nexperiment  accuracy\n----------  --------\nrf              0.91\nv4_4               -\n```' },
      },
    ]);
  });

  it('sends caller-built blocks unchanged', async () => {
    const { notifyWebhook } = createNotifyActivities(depsFor(hook.url));
    const blocks = [{ type: 'divider' }];
    await notifyWebhook({ text: 'x', blocks });
    expect(hook.requests[0]!.body).toEqual({ text: 'x', blocks });
  });

  it('is a no-op without a webhook URL', async () => {
    const { notifyWebhook } = createNotifyActivities(depsFor(undefined));
    expect(await notifyWebhook({ text: 'hello' })).toEqual({ sent: false, reason: WEBHOOK_UNSET_REASON });
    expect(hook.requests).toHaveLength(0);
  });

  it('5xx, 429 and 408 are retryable; Retry-After becomes the next retry delay', async () => {
    const { notifyWebhook } = createNotifyActivities(depsFor(hook.url));
    hook.respond = (res) => res.writeHead(500).end('internal_error');
    const e500 = await failure(notifyWebhook({ text: 'x' }));
    expect(e500.nonRetryable).toBeFalsy();
    expect(e500.type).toBe('WebhookUnavailable');
    expect(e500.message).toContain('HTTP 500: internal_error');

    hook.respond = (res) => res.writeHead(429, { 'retry-after': '7' }).end('rate_limited');
    const e429 = await failure(notifyWebhook({ text: 'x' }));
    expect(e429.nonRetryable).toBeFalsy();
    expect(e429.nextRetryDelay).toBe(7000);

    hook.respond = (res) => res.writeHead(408).end();
    expect((await failure(notifyWebhook({ text: 'x' }))).nonRetryable).toBeFalsy();
  });

  it('other 4xx (revoked hook, bad payload) are non-retryable and carry the answer', async () => {
    const { notifyWebhook } = createNotifyActivities(depsFor(hook.url));
    hook.respond = (res) => res.writeHead(404).end('no_service');
    const err = await failure(notifyWebhook({ text: 'x' }));
    expect(err.nonRetryable).toBe(true);
    expect(err.type).toBe('WebhookRejected');
    expect(err.message).toContain('HTTP 404: no_service');
  });

  it('a receiver that never answers times out as a retryable failure', async () => {
    hook.respond = () => {}; // hold the request open
    const { notifyWebhook } = createNotifyActivities(depsFor(hook.url), { timeoutMs: 300 });
    const err = await failure(notifyWebhook({ text: 'x' }));
    expect(err.type).toBe('WebhookTimeout');
    expect(err.nonRetryable).toBeFalsy();
  });

  it('an unreachable receiver is a retryable failure', async () => {
    const gone = await startReceiver();
    await gone.close();
    const { notifyWebhook } = createNotifyActivities(depsFor(gone.url));
    const err = await failure(notifyWebhook({ text: 'x' }));
    expect(err.type).toBe('WebhookUnreachable');
    expect(err.nonRetryable).toBeFalsy();
  });

  it('a URL fetch cannot use (credentials in it) fails non-retryably without naming the URL', async () => {
    const withCredentials = hook.url.replace('http://', 'http://shepherd:PASSWORD@');
    const { notifyWebhook } = createNotifyActivities(depsFor(withCredentials));
    const err = await failure(notifyWebhook({ text: 'x' }));
    expect(err.type).toBe('WebhookMisconfigured');
    expect(err.nonRetryable).toBe(true);
    expect(err.message).toMatch(/SHEPHERD_WEBHOOK_URL cannot be used: .*<webhook URL>/);
    expect(err.message).not.toContain('PASSWORD');
  });

  it('activity cancellation aborts the request and surfaces as cancellation', async () => {
    hook.respond = () => {};
    const { notifyWebhook } = createNotifyActivities(depsFor(hook.url), { timeoutMs: 60_000 });
    const env = new MockActivityEnvironment();
    const running = env.run(notifyWebhook, { text: 'x' });
    while (hook.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    env.cancel();
    await expect(running).rejects.toBeInstanceOf(CancelledFailure);
  });

  it('notifyBatchSummary sends one message naming the batch with a row per experiment', async () => {
    const { notifyBatchSummary } = createNotifyActivities(depsFor(hook.url));
    await notifyBatchSummary({
      batchId: 'seed-000',
      status: 'completed_with_failures',
      succeeded: 1,
      failed: 1,
      experiments: [
        { name: 'rf', status: 'succeeded', metrics: { accuracy: 0.9123456 }, attempts: 1, durationMs: 2500 },
        { name: 'v4_4', status: 'failed', error: 'exit 137 (SIGKILL): possible OOM', attempts: 3 },
      ],
    });
    expect(hook.requests).toHaveLength(1);
    const body = hook.requests[0]!.body;
    expect(body.text).toBe('Batch seed-000 completed_with_failures: 1 succeeded, 1 failed of 2');
    const table: string = body.blocks[2].text.text;
    expect(table.split('\n')).toEqual([
      '```',
      'experiment  status     accuracy  attempts  seconds  error',
      '----------  ---------  --------  --------  -------  --------------------------------',
      'rf          succeeded    0.9123         1      2.5  -',
      'v4_4        failed            -         3        -  exit 137 (SIGKILL): possible OOM',
      '```',
    ]);
  });
});

describe('formatSummaryTable', () => {
  it('aligns columns, right-aligns numbers, and replaces rows that do not fit with a count', () => {
    const rows = Array.from({ length: 50 }, (_, i) => ({ experiment: `exp-${i}`, accuracy: i / 100 }));
    const full = formatSummaryTable(rows);
    expect(full.split('\n')).toHaveLength(52);
    const cut = formatSummaryTable(rows, { maxChars: 200 });
    expect(cut.length).toBeLessThanOrEqual(200);
    const lines = cut.split('\n');
    expect(lines.at(-1)).toMatch(/^… \d+ more rows$/);
    const shown = lines.length - 3;
    expect(lines.at(-1)).toBe(`… ${50 - shown} more rows`);
  });

  it('cuts long cells and flattens whitespace so one row stays one line', () => {
    const t = formatSummaryTable([{ error: 'x'.repeat(100) + '\nsecond line' }], { maxCellWidth: 20 });
    expect(t.split('\n')[2]).toBe('x'.repeat(19) + '…');
  });
});
