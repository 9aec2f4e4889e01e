import { randomBytes, randomUUID } from 'node:crypto';
import { Client, WorkflowFailedError } from '@temporalio/client';
import type { temporal as proto } from '@temporalio/proto';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTemporalCli } from '../scripts/lib/temporal-cli.js';
import { connect, type ShepherdConnection } from '../src/client/connect.js';
import { connectClient } from '../src/client/connection.js';
import { serveDashboard } from '../src/dashboard/server.js';
import { createPool } from '../src/db/pool.js';
import { startExperimentBatch, type ExperimentBatchResult } from '../src/client/experiments.js';
import { clientDataConverter } from '../src/codec/data-converter.js';
import { parseKeyring } from '../src/codec/keyring.js';
import { experimentRunWorkflowId } from '../src/shared/experiments/workflow-ids.js';
import { connectTestClient, startTestWorker, uniqueQueue, type TestWorker } from './support/harness.js';
import { startWithTemporalCli } from './support/temporal-cli.js';
import { nodeExperiment } from './support/experiments.js';

// Issue 12, encrypted payloads, against the real dev server: with SHEPHERD_ENCRYPTION_KEYS set,
// what the server stores is ciphertext (read back by a client without the codec), the real
// temporal CLI reads it through `shepherd codec-server`, keys rotate without stranding
// anything, and an input under a removed key fails its workflow once, naming the key.

const key = () => randomBytes(32).toString('base64');
const KEYS = { a: key(), b: key(), c: key() };
const ring = (ids: (keyof typeof KEYS)[], encryptWith: keyof typeof KEYS) =>
  parseKeyring(ids.map((id) => `${id}:${KEYS[id]}`).join(','), encryptWith);
function useEnvKeys(ids: (keyof typeof KEYS)[], encryptWith: keyof typeof KEYS) {
  process.env.SHEPHERD_ENCRYPTION_KEYS = ids.map((id) => `${id}:${KEYS[id]}`).join(',');
  process.env.SHEPHERD_ENCRYPTION_KEY_ID = encryptWith;
}
const TOKEN = 'codec-test-token-0123456789';
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString();

interface Found {
  path: string;
  payload: proto.api.common.v1.IPayload;
}

/**
 * Every payload in a raw history, except search attributes and headers (never encoded, by
 * design) and patch markers' data, which the SDK core writes itself: only the patch ID.
 */
function payloadsOf(node: unknown, path = ''): Found[] {
  if (!node || typeof node !== 'object' || /searchAttributes|header|details\.patch-data/i.test(path)) return [];
  const obj = node as Record<string, unknown>;
  if (obj.data instanceof Uint8Array && obj.metadata && typeof obj.metadata === 'object')
    return [{ path, payload: obj as proto.api.common.v1.IPayload }];
  return Object.entries(obj).flatMap(([k, v]) => payloadsOf(v, `${path}.${k}`));
}

async function rawHistory(client: Client, workflowId: string) {
  return (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
}

const batch = (batchId: string, names: string[]) => ({
  batchId,
  experiments: names.map((n) => nodeExperiment(n, `done({ accuracy: 0.9, label: ${JSON.stringify(`${n}-label`)} })`)),
});

describe('encrypted payloads', () => {
  let w: TestWorker;
  let conn: ShepherdConnection;
  let plain: Awaited<ReturnType<typeof connectTestClient>>;
  let temporal: string;
  let codecServer: ResultPromise | undefined;
  let codecUrl: string;
  const batchId = `enc-${randomUUID().slice(0, 8)}`;
  const names = ['classified-alpha', 'classified-beta'];

  beforeAll(async () => {
    useEnvKeys(['a'], 'a');
    w = await startTestWorker(); // the worker reads the keys from env, as `npm run worker` does
    conn = await connect({ address: inject('temporalAddress') }); // the client package, same env
    plain = await connectTestClient(); // no codec: what anyone reading the server sees
    temporal = await ensureTemporalCli();
  });
  afterAll(async () => {
    codecServer?.kill('SIGINT');
    await codecServer?.catch(() => undefined);
    await conn?.close();
    await plain?.connection.close();
    await w?.stop();
    delete process.env.SHEPHERD_ENCRYPTION_KEYS;
    delete process.env.SHEPHERD_ENCRYPTION_KEY_ID;
  });

  it('runs a batch end to end; the stored inputs and results are binary/encrypted with no plaintext', async () => {
    const handle = await startExperimentBatch(conn.client, batch(batchId, names), { taskQueue: w.taskQueue });
    const result = (await handle.result()) as ExperimentBatchResult;
    expect(result.status).toBe('completed');
    expect(result.experiments.map((e) => e.name)).toEqual(names);

    for (const workflowId of [handle.workflowId, ...names.map((n) => experimentRunWorkflowId(batchId, n))]) {
      const events = await rawHistory(plain.client, workflowId);
      const found = events.flatMap((e, i) => payloadsOf(e, `event${i + 1}`));
      const paths = found.map((f) => f.path).join(' ');
      // The input, the result, activity inputs and results (and the memo) are all there, all encrypted.
      expect(paths).toMatch(/workflowExecutionStartedEventAttributes\.input/);
      expect(paths).toMatch(/workflowExecutionCompletedEventAttributes\.result/);
      expect(paths).toMatch(/activityTaskCompletedEventAttributes\.result/);
      for (const { path, payload } of found) {
        expect(text(payload.metadata?.encoding), path).toBe('binary/encrypted');
        expect(text(payload.metadata?.['encryption-key-id']), path).toBe('a');
        for (const secret of [batchId, ...names, 'classified']) expect(text(payload.data), path).not.toContain(secret);
      }
      expect(events.some((e) => e.workflowTaskFailedEventAttributes)).toBe(false);
    }
  });

  it('a reader without the keys (the dashboard) still lists encrypted workflows: their memo shows as undecodable', async () => {
    const saved = [process.env.SHEPHERD_ENCRYPTION_KEYS, process.env.SHEPHERD_ENCRYPTION_KEY_ID];
    delete process.env.SHEPHERD_ENCRYPTION_KEYS;
    delete process.env.SHEPHERD_ENCRYPTION_KEY_ID;
    const reader = await connectClient({ address: inject('temporalAddress') }, { reader: true });
    const pool = createPool(inject('databaseUrl'));
    const dashboard = await serveDashboard({
      pool,
      client: reader.client,
      namespace: 'default',
      projectDir: process.cwd(),
      controls: { training: false },
    });
    try {
      const res = await fetch(`${dashboard.url}/api/overview`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { executions: { workflowId: string }[] };
      expect(body.executions.map((e) => e.workflowId)).toContain(`experiment-batch-${batchId}`);
      // The same listing through a plain client fails on the encrypted memo: why readers are tolerant.
      const listAll = async () => {
        for await (const _ of plain.client.workflow.list({ query: `WorkflowId = 'experiment-batch-${batchId}'` })) void _;
      };
      await expect(listAll()).rejects.toThrow();
    } finally {
      await dashboard.close();
      await pool.end();
      await reader.connection.close();
      [process.env.SHEPHERD_ENCRYPTION_KEYS, process.env.SHEPHERD_ENCRYPTION_KEY_ID] = saved;
    }
  });

  it('`shepherd codec-server` lets the real temporal CLI show the plaintext, only with the token', async () => {
    const env = { ...process.env, SHEPHERD_CODEC_TOKEN: TOKEN };
    codecServer = execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'codec-server', '--port', '0'], { env, reject: false });
    let out = '';
    codecServer.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    codecServer.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    for (let i = 0; i < 600 && !/codec server: (http:\/\/127\.0\.0\.1:\d+)/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    codecUrl = /codec server: (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
    expect(codecUrl, out).not.toBe('');

    const show = (extra: string[]) =>
      execa(
        temporal,
        [
          'workflow',
          'show',
          '--address',
          inject('temporalAddress'),
          '--workflow-id',
          `experiment-batch-${batchId}`,
          '--output',
          'json',
          ...extra,
        ],
        { reject: false },
      );
    // The CLI's JSON is proto3 JSON (bytes in base64); workflow IDs (which name the batch and
    // experiments) are never payloads, so look at the result payload itself.
    const resultOf = (stdout: string) => {
      const events = (
        JSON.parse(stdout) as {
          events: {
            workflowExecutionCompletedEventAttributes?: { result: { payloads: { metadata: Record<string, string>; data: string }[] } };
          }[];
        }
      ).events;
      const p = events.find((e) => e.workflowExecutionCompletedEventAttributes)!.workflowExecutionCompletedEventAttributes!.result
        .payloads[0]!;
      return { encoding: Buffer.from(p.metadata.encoding!, 'base64').toString(), data: Buffer.from(p.data, 'base64').toString() };
    };
    const decoded = await show(['--codec-endpoint', codecUrl, '--codec-auth', `Bearer ${TOKEN}`]);
    expect(decoded.exitCode, decoded.stderr).toBe(0);
    const clear = resultOf(decoded.stdout);
    expect(clear.encoding).toBe('json/plain');
    expect(JSON.parse(clear.data)).toMatchObject({
      batchId,
      status: 'completed',
      experiments: names.map((n) => ({ name: n, metrics: { label: `${n}-label` } })),
    });

    const raw = await show([]);
    expect(raw.exitCode, raw.stderr).toBe(0);
    expect(resultOf(raw.stdout).encoding).toBe('binary/encrypted');
    expect(raw.stdout).not.toContain(Buffer.from('classified-alpha-label').toString('base64').slice(0, 12));
    expect(resultOf(raw.stdout).data).not.toContain('label');

    const noToken = await show(['--codec-endpoint', codecUrl]);
    expect(noToken.exitCode).not.toBe(0);
    expect(noToken.stdout).not.toContain('label');
    // (The CLI retries a refused codec call until its deadline, then gives up without the status.)
    const direct = await fetch(`${codecUrl}/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"payloads":[]}',
    });
    expect(direct.status).toBe(401);

    // The other direction: `temporal workflow start` encrypts its input through /encode.
    const viaCli = `enc-cli-${randomUUID().slice(0, 8)}`;
    const started = await startWithTemporalCli({
      type: 'experimentBatch',
      taskQueue: w.taskQueue,
      workflowId: `experiment-batch-${viaCli}`,
      args: [
        '--input',
        JSON.stringify(batch(viaCli, ['classified-gamma'])),
        '--codec-endpoint',
        codecUrl,
        '--codec-auth',
        `Bearer ${TOKEN}`,
      ],
      reject: false,
    });
    expect(started.exitCode, started.stderr).toBe(0);
    const cliResult = (await conn.client.workflow.getHandle(`experiment-batch-${viaCli}`).result()) as ExperimentBatchResult;
    expect(cliResult.experiments.map((e) => [e.name, e.status])).toEqual([['classified-gamma', 'succeeded']]);
    const startedInput = payloadsOf(
      (await rawHistory(plain.client, `experiment-batch-${viaCli}`))[0]?.workflowExecutionStartedEventAttributes?.input,
    );
    expect(startedInput.map((f) => text(f.payload.metadata?.encoding))).toEqual(['binary/encrypted']);
    expect(text(startedInput[0]!.payload.data)).not.toContain('classified');

    // Bound elsewhere than loopback without a token: refused at start.
    const open = await execa(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'codec-server', '--host', '0.0.0.0', '--port', '0'], {
      env: { ...process.env, SHEPHERD_CODEC_TOKEN: '' },
      reject: false,
    });
    expect(open.exitCode).toBe(1);
    expect(open.stderr).toContain('requires SHEPHERD_CODEC_TOKEN');
  });

  it('rotation: a workflow started under key a completes under b (a kept for decoding); old results still read', async () => {
    const queue = uniqueQueue('rotate');
    const clientFor = (c: ReturnType<typeof ring>) =>
      new Client({ connection: plain.connection, dataConverter: clientDataConverter({ keyring: c }) });
    const underA = clientFor(ring(['a'], 'a'));
    const rotatedId = `enc-rot-${randomUUID().slice(0, 8)}`;
    // Started while no worker polls the queue: its input is stored under key a.
    const h = await startExperimentBatch(underA, batch(rotatedId, ['rotated-one']), { taskQueue: queue });

    useEnvKeys(['a', 'b'], 'b');
    const wB = await startTestWorker({ taskQueue: queue });
    try {
      const rotated = clientFor(ring(['a', 'b'], 'b'));
      const result = (await rotated.workflow.getHandle(h.workflowId).result()) as ExperimentBatchResult;
      expect(result.status).toBe('completed');
      const events = await rawHistory(plain.client, h.workflowId);
      const keyOf = (p: Found[]) => p.map((f) => text(f.payload.metadata?.['encryption-key-id']));
      expect(
        keyOf(payloadsOf(events.find((e) => e.workflowExecutionStartedEventAttributes)?.workflowExecutionStartedEventAttributes?.input)),
      ).toEqual(['a']);
      expect(
        keyOf(
          payloadsOf(events.find((e) => e.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes?.result),
        ),
      ).toEqual(['b']);
      // The first test's batch, all under a, still reads after the rotation.
      const old = (await rotated.workflow.getHandle(`experiment-batch-${batchId}`).result()) as ExperimentBatchResult;
      expect(old.experiments.map((e) => e.name)).toEqual(names);
    } finally {
      await wB.stop();
    }
  });

  it('an input under a key the worker lacks (removed) fails the workflow once, non-retryably, naming the key id', async () => {
    // Key c is unknown to the worker (keys: a): no workflow-task retry loop, one failure naming it.
    const underC = new Client({ connection: plain.connection, dataConverter: clientDataConverter({ keyring: ring(['c'], 'c') }) });
    const queue = w.taskQueue;
    const lost = await startExperimentBatch(underC, batch(`enc-lost-${randomUUID().slice(0, 8)}`, ['never-runs']), { taskQueue: queue });
    const outcome = await Promise.race([
      lost.result().then(
        () => 'completed',
        (e: unknown) => e,
      ),
      new Promise((r) => setTimeout(() => r('still running'), 30_000)),
    ]);
    if (outcome === 'still running') await lost.terminate('encryption test');
    const lostEvents = await rawHistory(plain.client, lost.workflowId);
    expect(
      lostEvents.filter((e) => e.workflowTaskFailedEventAttributes).map((e) => e.workflowTaskFailedEventAttributes?.failure?.message),
    ).toEqual([]);
    expect(outcome).toBeInstanceOf(WorkflowFailedError);
    const cause = (outcome as WorkflowFailedError).cause as { message?: string; nonRetryable?: boolean; type?: string };
    expect(cause.nonRetryable).toBe(true);
    expect(cause.type).toBe('UndecodableInput');
    expect(cause.message).toContain('key id "c"');
    expect(cause.message).toContain('SHEPHERD_ENCRYPTION_KEYS');
  });
});
