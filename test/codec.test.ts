import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { DecryptionError, EncryptionCodec } from '../src/codec/encryption-codec.js';
import { keyringFromEnv, parseKeyring } from '../src/codec/keyring.js';
import { createCodecApp } from '../src/codec/server.js';
import { payloadConverter } from '../src/shared/payloads/payload-converter.js';
import { undecodableMessage } from '../src/shared/payloads/undecodable.js';
import { undecodableActivityInterceptor } from '../src/workers/undecodable-activity.js';

// The encryption codec, its keyring and the codec server's HTTP surface, without a server.

const k = () => randomBytes(32).toString('base64');
const A = k();
const B = k();
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString();
const plain = (v: unknown) => defaultPayloadConverter.toPayload(v);
const SECRET = { batchId: 'batch-secret-42', experiments: [{ name: 'top-secret-experiment' }] };

describe('EncryptionCodec', () => {
  const codec = new EncryptionCodec(parseKeyring(`a:${A},b:${B}`, 'b'));

  it('round-trips payloads; the stored bytes hold no plaintext and a fresh IV each time', async () => {
    const [e1, e2] = await codec.encode([plain(SECRET), plain(SECRET)]);
    for (const e of [e1!, e2!]) {
      expect(text(e.metadata?.encoding)).toBe('binary/encrypted');
      expect(text(e.metadata?.['encryption-key-id'])).toBe('b');
      expect(Object.keys(e.metadata ?? {}).sort()).toEqual(['encoding', 'encryption-key-id']);
      expect(text(e.data)).not.toContain('secret');
    }
    expect(Buffer.from(e1!.data!).equals(Buffer.from(e2!.data!))).toBe(false);
    const [d] = await codec.decode([e1!]);
    expect(defaultPayloadConverter.fromPayload(d!)).toEqual(SECRET);
    expect(text(d!.metadata?.encoding)).toBe('json/plain');
  });

  it('passes plain payloads through and never encrypts twice', async () => {
    const p = plain('x');
    expect(await codec.decode([p])).toEqual([p]);
    const [e] = await codec.encode([p]);
    expect(await codec.encode([e!])).toEqual([e]);
  });

  it('rotation: payloads under the old key still decode once the new key encrypts', async () => {
    const [underA] = await new EncryptionCodec(parseKeyring(`a:${A}`, 'a')).encode([plain(SECRET)]);
    const [d] = await codec.decode([underA!]);
    expect(defaultPayloadConverter.fromPayload(d!)).toEqual(SECRET);
  });

  it('detects tampering (AES-GCM authentication) with a clear error naming the key id', async () => {
    const [e] = await codec.encode([plain(SECRET)]);
    const data = Buffer.from(e!.data!);
    data[20]! ^= 1;
    await expect(codec.decode([{ ...e!, data }])).rejects.toThrow(/failed authentication with key id "b" \(AES-GCM tag mismatch\)/);
    // The key ID is authenticated too: relabelling a payload is refused, not decrypted with another key.
    const relabelled = { ...e!, metadata: { ...e!.metadata, 'encryption-key-id': Buffer.from('a') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication with key id "a"/);
  });

  it('names an unknown key id; in tolerant mode hands the payload on with the reason, and the worker converter reports it', async () => {
    const [underC] = await new EncryptionCodec(parseKeyring(`c:${k()}`, 'c')).encode([plain(SECRET)]);
    await expect(codec.decode([underC!])).rejects.toThrow(DecryptionError);
    await expect(codec.decode([underC!])).rejects.toThrow(/key id "c", which is not in SHEPHERD_ENCRYPTION_KEYS/);
    const [kept] = await new EncryptionCodec(parseKeyring(`a:${A}`, 'a'), { tolerant: true }).decode([underC!]);
    expect(text(kept!.metadata?.encoding)).toBe('binary/encrypted');
    expect(text(kept!.metadata?.['encryption-error'])).toContain('key id "c"');
    const marker = payloadConverter.fromPayload(kept!);
    expect(undecodableMessage([marker], 'the workflow input')).toMatch(
      /argument 1 has payload encoding "binary\/encrypted" \(encrypted with key id "c".*SHEPHERD_ENCRYPTION_KEYS/,
    );
    // A worker without any keys says which key the payload needs.
    expect(undecodableMessage([payloadConverter.fromPayload(underC!)], 'x')).toContain(
      'encrypted with key id "c", but this worker has no encryption keys',
    );
  });
});

const noop = () => undefined;
const quiet = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };

describe('an activity argument the worker could not decrypt', () => {
  it('fails the attempt non-retryably, naming the key id, without running the activity', async () => {
    const [underC] = await new EncryptionCodec(parseKeyring(`c:${k()}`, 'c')).encode([plain(SECRET)]);
    const [kept] = await new EncryptionCodec(parseKeyring(`a:${A}`, 'a'), { tolerant: true }).decode([underC!]);
    const marker = payloadConverter.fromPayload(kept!);
    let ran = false;
    const env = new MockActivityEnvironment(
      { activityType: 'runExperiment' },
      { interceptors: [undecodableActivityInterceptor], logger: quiet },
    );
    const err = await env.run(async (_input: unknown) => (ran = true), marker).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).type).toBe('UndecodableInput');
    expect((err as ApplicationFailure).message).toMatch(/the input of activity runExperiment could not be decoded: .*key id "c"/);
    expect(await env.run(async (input: unknown) => input, 'fine')).toBe('fine');
  });
});

describe('keyring from env', () => {
  it('unset means encryption off', () => {
    expect(keyringFromEnv({})).toBeNull();
    expect(keyringFromEnv({ SHEPHERD_ENCRYPTION_KEYS: '', SHEPHERD_ENCRYPTION_KEY_ID: '' })).toBeNull();
  });

  it('names the variable, never the key', () => {
    expect(() => keyringFromEnv({ SHEPHERD_ENCRYPTION_KEYS: `a:${A}`, SHEPHERD_ENCRYPTION_KEY_ID: 'b' })).toThrow(
      /^invalid environment: SHEPHERD_ENCRYPTION_KEY_ID: "b" is not one of the keys in SHEPHERD_ENCRYPTION_KEYS \(a\)$/,
    );
    expect(() => keyringFromEnv({ SHEPHERD_ENCRYPTION_KEYS: `a:${A},b:${B}` })).toThrow(/SHEPHERD_ENCRYPTION_KEY_ID: required/);
    expect(() => keyringFromEnv({ SHEPHERD_ENCRYPTION_KEY_ID: 'a' })).toThrow(/SHEPHERD_ENCRYPTION_KEYS is not/);
    const short = randomBytes(16).toString('base64');
    expect(() => keyringFromEnv({ SHEPHERD_ENCRYPTION_KEYS: `a:${short}` })).toThrow(/SHEPHERD_ENCRYPTION_KEYS: key "a" must be 32 bytes/);
    expect(() => keyringFromEnv({ SHEPHERD_ENCRYPTION_KEYS: `a:${short}` })).not.toThrow(short);
    expect(() => keyringFromEnv({ SHEPHERD_ENCRYPTION_KEYS: A })).toThrow(/SHEPHERD_ENCRYPTION_KEYS: each entry must be keyId:base64-key/);
    expect(() => keyringFromEnv({ SHEPHERD_ENCRYPTION_KEYS: `a:${A},a:${B}`, SHEPHERD_ENCRYPTION_KEY_ID: 'a' })).toThrow(/listed twice/);
  });

  it('one listed key encrypts without KEY_ID; several with the one named', () => {
    expect(keyringFromEnv({ SHEPHERD_ENCRYPTION_KEYS: `a:${A}` })?.encryptWith).toBe('a');
    expect(keyringFromEnv({ SHEPHERD_ENCRYPTION_KEYS: ` a:${A} , b:${B} `, SHEPHERD_ENCRYPTION_KEY_ID: 'b' })?.encryptWith).toBe('b');
  });
});

describe('codec server (HTTP, in memory)', () => {
  const keyring = parseKeyring(`a:${A}`, 'a');
  const toJson = (p: Payload) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  });
  const post = (app: ReturnType<typeof createCodecApp>, path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('encodes and decodes proto3-JSON payloads, also under /<namespace>/', async () => {
    const app = createCodecApp({ keyring });
    const enc = await post(app, '/encode', { payloads: [toJson(plain(SECRET))] });
    expect(enc.status).toBe(200);
    const encoded = (await enc.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(encoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    const dec = await post(app, '/default/decode', encoded, { 'x-namespace': 'default' });
    const decoded = (await dec.json()) as typeof encoded;
    expect(JSON.parse(Buffer.from(decoded.payloads[0]!.data, 'base64').toString())).toEqual(SECRET);
    expect((await post(app, '/decode', { nope: 1 })).status).toBe(400);
  });

  it('requires the bearer token when set; CORS preflight from the Web UI passes without it', async () => {
    const app = createCodecApp({ keyring, token: 'a-long-enough-token' });
    expect((await post(app, '/decode', { payloads: [] })).status).toBe(401);
    expect((await post(app, '/decode', { payloads: [] }, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await post(app, '/decode', { payloads: [] }, { authorization: 'Bearer a-long-enough-token' })).status).toBe(200);
    const pre = await app.request('/decode', {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:8233',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/i);
    const other = await app.request('/decode', {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
