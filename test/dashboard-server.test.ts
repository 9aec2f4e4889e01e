import { randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { ProgressSamples, MAX_POINTS } from '../src/activities/training/progress-samples.js';
import { createLogger } from '../src/config/logger.js';
import { createPool } from '../src/db/pool.js';
import { checkBind } from '../src/dashboard/auth.js';
import { dashboardOptions } from '../src/dashboard/options.js';
import { redact } from '../src/dashboard/redact.js';
import { serveDashboard, type DashboardServer } from '../src/dashboard/server.js';
import { verdictOf } from '../src/dashboard/temporal.js';
import { connectTestClient, tempDir } from './support/harness.js';
import { waitFor } from './support/procs.js';

// The dashboard's edges, against a real server, database and Temporal: token access, control
// actions off by default, secrets redacted from JSON, and the loss-sample store's bound.

const TOKEN = `t-${randomUUID()}`;
let pool: pg.Pool;
let client: Client;
let connection: Connection;
let open: DashboardServer;
let guarded: DashboardServer;

beforeAll(async () => {
  pool = createPool(inject('databaseUrl'));
  ({ client, connection } = await connectTestClient());
  const ctx = { pool, client, namespace: 'default', projectDir: process.cwd(), controls: { training: false } };
  open = await serveDashboard(ctx);
  guarded = await serveDashboard(ctx, { token: TOKEN });
});
afterAll(async () => {
  await open?.close();
  await guarded?.close();
  await connection?.close();
  await pool?.end();
});

describe('dashboard server', () => {
  it('binds 127.0.0.1 by default and refuses another address without a token', async () => {
    expect(new URL(open.url).hostname).toBe('127.0.0.1');
    expect(() => checkBind('0.0.0.0', undefined)).toThrow(/SHEPHERD_DASHBOARD_TOKEN/);
    await expect(
      serveDashboard({ pool, client, namespace: 'default', projectDir: process.cwd(), controls: { training: false } }, { host: '0.0.0.0' }),
    ).rejects.toThrow(/requires SHEPHERD_DASHBOARD_TOKEN/);
    expect(() => checkBind('0.0.0.0', 'short')).toThrow(/at least 16/);
    expect(() => dashboardOptions({ port: 'eighty' })).toThrow(/--port \/ SHEPHERD_DASHBOARD_PORT/);
    expect(() => dashboardOptions({ allowControl: ['delete-everything'] })).toThrow(/--allow-control/);
    expect(dashboardOptions({}, { SHEPHERD_DASHBOARD_CONTROLS: 'training' }).controls).toEqual(['training']);
  });

  it('with a token, every request needs it: bearer, or the cookie set by ?token= once', async () => {
    expect((await fetch(`${guarded.url}/api/experiments`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/`)).status).toBe(401);
    expect((await fetch(`${guarded.url}/api/experiments`, { headers: { authorization: 'Bearer wrong-token-000000' } })).status).toBe(401);
    const ok = await fetch(`${guarded.url}/api/experiments`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toHaveProperty('batches');
    const first = await fetch(`${guarded.url}/experiments?token=${TOKEN}`, { redirect: 'manual' });
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/experiments');
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/i);
    const page = await fetch(`${guarded.url}/experiments`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain(TOKEN);
  });

  it('control actions are refused unless enabled', async () => {
    const res = await fetch(`${open.url}/api/training/queues/any/pause`, { method: 'POST', headers: { 'x-shepherd-control': '1' } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/disabled/);
  });

  it('serves every asset itself, with a CSP that allows nothing but this origin', async () => {
    const page = await fetch(`${open.url}/`);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((u) => !u.startsWith('data:'));
    for (const a of assets.filter((u) => u.startsWith('/assets/'))) expect((await fetch(`${open.url}${a}`)).status).toBe(200);
    expect(assets.filter((u) => /^https?:/.test(u))).toEqual([]);
  });

  it('tells slow from stuck by heartbeat age against the heartbeat timeout', () => {
    expect(verdictOf(0.1, 1, 600_000, 3_600_000)).toBe('ok');
    expect(verdictOf(0.4, 1, 1000, null)).toBe('slow');
    expect(verdictOf(0.6, 1, 1000, null)).toBe('stuck');
    expect(verdictOf(0.1, 3, 1000, null)).toBe('retrying');
    expect(verdictOf(null, 1, 50_000, 60_000)).toBe('slow');
    expect(verdictOf(null, 1, 10_000, 60_000)).toBe('ok');
  });

  it('redacts secrets wherever they sit in a JSON body', () => {
    const out = redact({
      job: { trainer: { env: { HF_TOKEN: 'x1', PATH: '/bin' } } },
      webhookUrl: 'https://hooks.example/abc',
      apiKey: 'k',
      note: 'see https://user:pw@host.example/path?token=abc&x=1',
      prompt_tokens: 12,
    });
    expect(out).toEqual({
      job: { trainer: { env: { HF_TOKEN: '[redacted]', PATH: '[redacted]' } } },
      webhookUrl: '[redacted]',
      apiKey: '[redacted]',
      note: 'see https://[redacted]@host.example/path?token=[redacted]&x=1',
      prompt_tokens: 12,
    });
  });

  it('keeps at most MAX_POINTS loss samples per series however long the job', async () => {
    const instance = `samples-${randomUUID()}`;
    const steps = 200_000;
    const samples = new ProgressSamples(pool, instance, 1, steps, createLogger('error', 'test'));
    for (let step = 1; step <= steps; step++) {
      samples.add({ event: 'step', step, loss: 1 / step });
      if (step % 50 === 0) samples.add({ event: 'eval', step, val_loss: 2 / step, val_accuracy: null, reason: null });
    }
    await samples.flush();
    const { rows } = await pool.query(
      `SELECT count(train_loss)::int AS train, count(val_loss)::int AS val, max(step) AS last FROM training_samples WHERE instance = $1`,
      [instance],
    );
    expect(rows[0].train).toBeLessThanOrEqual(MAX_POINTS + 1);
    expect(rows[0].train).toBeGreaterThanOrEqual(MAX_POINTS - 1);
    expect(rows[0].val).toBeLessThanOrEqual(MAX_POINTS + 1);
    expect(rows[0].last).toBeGreaterThan(steps - steps / MAX_POINTS - 1);
  });

  it('counts replicates per job and per hour by trigger, a retried failure moving to succeeded', async () => {
    const job = `counted-${randomUUID()}`;
    // The shape of the replicate writer's statement (src/activities/simulation.ts).
    const write = (rows: { replicate: number; status: string }[]) =>
      pool.query(
        `INSERT INTO simulation_replicates (job_id, parameter_key, replicate, seed, status)
         SELECT $1, 'p', r.replicate, r.replicate, r.status FROM jsonb_to_recordset($2::jsonb) AS r(replicate int, status text)
         ON CONFLICT (job_id, parameter_key, replicate) DO UPDATE SET status = EXCLUDED.status, finished_at = now()
           WHERE simulation_replicates.status = 'failed'`,
        [job, JSON.stringify(rows)],
      );
    const before = await pool.query(
      `SELECT coalesce(sum(count), 0)::int AS n FROM dashboard_hourly WHERE pipeline = 'simulation replicates'`,
    );
    await write([
      { replicate: 0, status: 'succeeded' },
      { replicate: 1, status: 'failed' },
      { replicate: 2, status: 'failed' },
    ]);
    // Replicate 1 retried and now succeeds; replicate 0 re-sent (a retried write) changes nothing.
    await write([
      { replicate: 0, status: 'failed' },
      { replicate: 1, status: 'succeeded' },
    ]);
    const { rows } = await pool.query(`SELECT succeeded, failed FROM simulation_progress WHERE job_id = $1`, [job]);
    expect(rows).toEqual([{ succeeded: 2, failed: 1 }]);
    const truth = await pool.query(
      `SELECT count(*) FILTER (WHERE status = 'succeeded')::int AS s, count(*) FILTER (WHERE status = 'failed')::int AS f FROM simulation_replicates WHERE job_id = $1`,
      [job],
    );
    expect(truth.rows[0]).toEqual({ s: 2, f: 1 });
    const after = await pool.query(
      `SELECT coalesce(sum(count), 0)::int AS n FROM dashboard_hourly WHERE pipeline = 'simulation replicates'`,
    );
    expect(after.rows[0].n - before.rows[0].n).toBe(4); // three finished, then one finished again
  });

  it('`shepherd dashboard` serves on 127.0.0.1, stops on SIGINT, and refuses another address without a token', async () => {
    const env = { DATABASE_URL: inject('databaseUrl'), SHEPHERD_DATA_DIR: tempDir('dash-cli'), SHEPHERD_LOG_LEVEL: 'error' };
    const args = ['--import', 'tsx', 'src/cli/main.ts', '--address', inject('temporalAddress'), 'dashboard', '--port', '0'];
    const child = execa(process.execPath, args, { env, reject: false });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const url = await waitFor(() => /Shepherd dashboard: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 'the dashboard link', 60_000);
    const res = await fetch(`${url}/api/overview`);
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('counts');
    child.kill('SIGINT');
    expect((await child).exitCode).toBe(0);

    const refused = await execa(process.execPath, [...args, '--host', '0.0.0.0'], { env, reject: false });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('requires SHEPHERD_DASHBOARD_TOKEN');
  });
});
