import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment as SdkMockEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createLlmActivities, type ModelCallInput } from '../src/activities/conversations/llm.js';
import type { ModelRegistry } from '../src/config/models.js';
import { startFakeModelServer, type FakeModelServer } from './support/fake-ollama.js';
import { applicationFailureOf } from './support/failures.js';

// The LLM client against a real local HTTP server speaking Ollama NDJSON and OpenAI SSE. The
// activity runs in the SDK's MockActivityEnvironment so heartbeats and cancellation are observed.

// Failed attempts are expected here; keep the SDK's per-failure warnings out of the output.
class MockActivityEnvironment extends SdkMockEnvironment {
  constructor(info: ConstructorParameters<typeof SdkMockEnvironment>[0] = {}) {
    super(info, { logger: new DefaultLogger('ERROR') });
  }
  /** run() cannot infer the result type; this one can. */
  call<R>(fn: (input: ModelCallInput) => Promise<R>, input: ModelCallInput): Promise<R> {
    return this.run(fn, input) as Promise<R>;
  }
}

let server: FakeModelServer;
let registry: ModelRegistry;

beforeAll(async () => {
  server = await startFakeModelServer();
  registry = {
    models: {
      'qwen2.5:7b': { provider: 'ollama', baseUrl: server.url, maxConcurrency: 2, jsonMode: 'schema' },
      'mistral:latest': { provider: 'ollama', baseUrl: server.url, maxConcurrency: 1, jsonMode: 'prompt' },
      'gpt-4o-mini': {
        provider: 'openai',
        baseUrl: `${server.url}/v1`,
        apiKeyEnv: 'FAKE_OPENAI_KEY',
        maxConcurrency: 2,
        jsonMode: 'schema',
      },
      'local-openai': { provider: 'openai', baseUrl: `${server.url}/v1`, model: 'served-name', maxConcurrency: 1, jsonMode: 'object' },
    },
  };
});
afterAll(async () => server.close());
afterEach(() => {
  server.releaseHangs();
  delete process.env.FAKE_OPENAI_KEY;
});

const textStep = (model: string, prompt = 'Say hello'): ModelCallInput => ({ model, prompt, output: { format: 'text' } });
const jsonStep = (model: string): ModelCallInput => ({
  model,
  prompt: 'Classify the skill "Kubernetes administration".',
  output: { format: 'json', fields: { domain: { type: 'string', enum: ['technology', 'people'] }, confidence: 'number' } },
});

function envWithHeartbeats(heartbeatTimeoutMs?: number) {
  const env = new MockActivityEnvironment(heartbeatTimeoutMs ? { heartbeatTimeoutMs } : {});
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  return { env, beats };
}

const failureOf = applicationFailureOf;

describe('Ollama /api/chat streaming', () => {
  it('streams a text reply and heartbeats once per chunk', async () => {
    server.setBehaviour('qwen2.5:7b', { reply: 'Hello there, I am a streaming model.', chunkSize: 5 });
    const { callModel } = createLlmActivities(registry);
    const { env, beats } = envWithHeartbeats();
    const r = await env.call(callModel, textStep('qwen2.5:7b'));
    expect(r.output).toEqual({ text: 'Hello there, I am a streaming model.' });
    expect(r.provider).toBe('ollama');
    const streamed = beats.filter((b) => (b as { phase?: string }).phase === 'streaming');
    // 36 chars in 5-char chunks = 8 content lines + the done line; TCP may coalesce some writes,
    // but every chunk that did arrive was a heartbeat.
    expect(streamed.length).toBe(r.chunks);
    expect(streamed.length).toBeGreaterThan(0);
    const req = server.requests.at(-1)!;
    expect(req.body).toMatchObject({ model: 'qwen2.5:7b', stream: true });
  });

  it('asks for the step schema and returns the checked JSON object', async () => {
    server.setBehaviour('qwen2.5:7b', { choose: { domain: 'people' } });
    const { callModel } = createLlmActivities(registry);
    const r = await new MockActivityEnvironment().call(callModel, jsonStep('qwen2.5:7b'));
    expect(r.output).toEqual({ domain: 'people', confidence: 0.9 });
    const body = server.requests.at(-1)!.body;
    expect(body.format).toMatchObject({
      type: 'object',
      required: ['domain', 'confidence'],
      properties: { domain: { enum: ['technology', 'people'] } },
    });
  });

  it('with jsonMode "prompt", relies on the format instruction and sends no schema', async () => {
    server.setBehaviour('mistral:latest', {});
    const { callModel } = createLlmActivities(registry);
    const r = await new MockActivityEnvironment().call(callModel, jsonStep('mistral:latest'));
    expect(r.output).toEqual({ domain: 'technology', confidence: 0.9 });
    const req = server.requests.at(-1)!;
    expect(req.body.format).toBeUndefined();
    expect(req.prompt).toContain('Respond with only a JSON object');
  });

  it('a reply that does not match the declared output is a retryable InvalidModelOutput', async () => {
    server.setBehaviour('qwen2.5:7b', { reply: '{"domain": "cooking"}' });
    const { callModel } = createLlmActivities(registry);
    const f = await failureOf(new MockActivityEnvironment().call(callModel, jsonStep('qwen2.5:7b')));
    expect(f.type).toBe('InvalidModelOutput');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toMatch(/cooking.*not one of technology \| people/);
    expect(f.message).toMatch(/missing field 'confidence'/);
  });

  it('classifies HTTP errors: 404 unknown model is final, 503 is retryable', async () => {
    const { callModel } = createLlmActivities(registry);
    server.setBehaviour('qwen2.5:7b', { error: { status: 404, message: "model 'qwen2.5:7b' not found", times: 1 } });
    const notFound = await failureOf(new MockActivityEnvironment().call(callModel, textStep('qwen2.5:7b')));
    expect(notFound.type).toBe('ModelRequestRejected');
    expect(notFound.nonRetryable).toBe(true);
    expect(notFound.message).toContain("model 'qwen2.5:7b' not found");

    server.setBehaviour('qwen2.5:7b', { error: { status: 503, message: 'server busy', times: 1 } });
    const busy = await failureOf(new MockActivityEnvironment().call(callModel, textStep('qwen2.5:7b')));
    expect(busy.type).toBe('ModelUnavailable');
    expect(busy.nonRetryable).toBe(false);
  });

  it('an error line mid-stream is a retryable ModelStreamError', async () => {
    server.setBehaviour('qwen2.5:7b', {
      reply: 'a long enough reply to stream',
      chunkSize: 4,
      streamError: { afterChunks: 2, message: 'CUDA out of memory', times: 1 },
    });
    const { callModel } = createLlmActivities(registry);
    const f = await failureOf(new MockActivityEnvironment().call(callModel, textStep('qwen2.5:7b')));
    expect(f.type).toBe('ModelStreamError');
    expect(f.message).toContain('CUDA out of memory');
    expect(f.nonRetryable).toBe(false);
  });

  it('a model that hangs mid-stream stops heartbeating, and the call is abandoned, freeing the connection', async () => {
    server.setBehaviour('qwen2.5:7b', { reply: 'this reply never finishes', chunkSize: 3, hang: { afterChunks: 2, times: 1 } });
    const { callModel } = createLlmActivities(registry);
    const { env, beats } = envWithHeartbeats(300);
    const f = await failureOf(env.call(callModel, textStep('qwen2.5:7b')));
    expect(f.type).toBe('ModelStalled');
    expect(f.nonRetryable).toBe(false);
    // Heartbeats stopped with the stream: the last one reports the 2 chunks received.
    expect((beats.at(-1) as { chunks: number }).chunks).toBeLessThanOrEqual(2);
    await expect.poll(() => server.inFlight('qwen2.5:7b')).toBe(0);
    expect(server.requests.at(-1)!.outcome).toBe('aborted');
  });

  it('cancellation aborts the HTTP request and is reported as a cancellation', async () => {
    server.setBehaviour('qwen2.5:7b', { reply: 'slow slow slow slow slow', chunkSize: 1, chunkDelayMs: 50 });
    const { callModel } = createLlmActivities(registry);
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => {
      if (++beats === 4) env.cancel('CANCELLED');
    });
    const err = await env.call(callModel, textStep('qwen2.5:7b')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledFailure);
    await expect.poll(() => server.inFlight('qwen2.5:7b')).toBe(0);
    expect(server.requests.at(-1)!.outcome).toBe('aborted');
  });

  it('a model server that refuses the connection is a retryable ModelUnreachable naming the address and the cause', async () => {
    const closed = await startFakeModelServer();
    await closed.close();
    const { callModel } = createLlmActivities({
      models: { gone: { provider: 'ollama', baseUrl: closed.url, maxConcurrency: 1, jsonMode: 'schema' } },
    });
    const f = await failureOf(new MockActivityEnvironment().call(callModel, textStep('gone')));
    expect(f.type).toBe('ModelUnreachable');
    expect(f.nonRetryable).toBe(false);
    expect(f.message).toBe(`model 'gone' at ${closed.url} unreachable: ECONNREFUSED`);
  });

  it('characters whose bytes are split across network reads arrive whole', async () => {
    // A server that sends its NDJSON a few bytes at a time, so multi-byte characters are cut.
    const reply = 'naïve café — 東京 ✓';
    const line = `${JSON.stringify({ message: { role: 'assistant', content: reply }, done: true })}\n`;
    const raw = http.createServer(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const bytes = Buffer.from(line);
      for (let i = 0; i < bytes.length; i += 3) {
        res.write(bytes.subarray(i, i + 3));
        await new Promise((r) => setTimeout(r, 2));
      }
      res.end();
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    try {
      const { port } = raw.address() as AddressInfo;
      const { callModel } = createLlmActivities({
        models: { split: { provider: 'ollama', baseUrl: `http://127.0.0.1:${port}`, maxConcurrency: 1, jsonMode: 'schema' } },
      });
      const r = await new MockActivityEnvironment().call(callModel, textStep('split'));
      expect(r.chunks).toBeGreaterThan(3);
      expect(r.text).toBe(reply);
    } finally {
      raw.closeAllConnections();
      await new Promise((r) => raw.close(r));
    }
  });

  it('a model missing from the registry is a non-retryable UnknownModel', async () => {
    const { callModel } = createLlmActivities(registry);
    const f = await failureOf(new MockActivityEnvironment().call(callModel, textStep('llama9:1t')));
    expect(f.type).toBe('UnknownModel');
    expect(f.nonRetryable).toBe(true);
  });
});

describe('OpenAI-compatible /chat/completions streaming', () => {
  it('streams SSE with the API key from env and asks for a JSON schema', async () => {
    process.env.FAKE_OPENAI_KEY = 'sk-test-123';
    server.setBehaviour('gpt-4o-mini', { choose: { domain: 'people' }, chunkSize: 3 });
    const { callModel } = createLlmActivities(registry);
    const { env, beats } = envWithHeartbeats();
    const r = await env.call(callModel, jsonStep('gpt-4o-mini'));
    expect(r.provider).toBe('openai');
    expect(r.output).toEqual({ domain: 'people', confidence: 0.9 });
    expect(r.completionTokens).toBeGreaterThan(0);
    expect(beats.length).toBeGreaterThan(1);
    const req = server.requests.at(-1)!;
    expect(req.provider).toBe('openai');
    expect(req.headers.authorization).toBe('Bearer sk-test-123');
    expect(req.body).toMatchObject({ stream: true, response_format: { type: 'json_schema' } });
  });

  it('sends the served model name and json_object mode when configured so', async () => {
    server.setBehaviour('served-name', {});
    const { callModel } = createLlmActivities(registry);
    const r = await new MockActivityEnvironment().call(callModel, jsonStep('local-openai'));
    expect(r.output).toEqual({ domain: 'technology', confidence: 0.9 });
    const req = server.requests.at(-1)!;
    expect(req.model).toBe('served-name');
    expect(req.body.response_format).toEqual({ type: 'json_object' });
    expect(req.headers.authorization).toBeUndefined();
  });

  it('a missing API key fails before any request, naming the variable but never a value', async () => {
    const before = server.requests.length;
    const { callModel } = createLlmActivities(registry);
    const f = await failureOf(new MockActivityEnvironment().call(callModel, textStep('gpt-4o-mini')));
    expect(f.type).toBe('MissingApiKey');
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('FAKE_OPENAI_KEY');
    expect(server.requests.length).toBe(before);
  });

  it('HTTP 401 is final, 429 retryable', async () => {
    process.env.FAKE_OPENAI_KEY = 'sk-wrong';
    const { callModel } = createLlmActivities(registry);
    server.setBehaviour('gpt-4o-mini', { error: { status: 401, message: 'Incorrect API key provided', times: 1 } });
    const denied = await failureOf(new MockActivityEnvironment().call(callModel, textStep('gpt-4o-mini')));
    expect(denied.nonRetryable).toBe(true);
    expect(denied.message).toContain('Incorrect API key provided');
    expect(denied.message).not.toContain('sk-wrong');
    server.setBehaviour('gpt-4o-mini', { error: { status: 429, message: 'Rate limit reached', times: 1 } });
    const limited = await failureOf(new MockActivityEnvironment().call(callModel, textStep('gpt-4o-mini')));
    expect(limited.type).toBe('ModelUnavailable');
    expect(limited.nonRetryable).toBe(false);
  });
});
