import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pathToFileURL } from 'node:url';

// A local model server speaking the real wire protocols over real HTTP: Ollama's POST /api/chat
// (streaming NDJSON) and OpenAI-compatible POST /v1/chat/completions (streaming SSE). Per model it
// can be slow, hang mid-stream, fail with HTTP errors or error lines; it records every request and
// how many were in flight at once per model, so tests can check concurrency limits from the
// server's side of the wire. Also runnable alone: `tsx test/support/fake-ollama.ts --port 11434`.

export interface FakeRequest {
  id: number;
  provider: 'ollama' | 'openai';
  model: string;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
  /** The last user message. */
  prompt: string;
  outcome?: 'done' | 'aborted' | 'error' | 'http_error';
  chunksSent: number;
}

export interface ModelBehaviour {
  /** Reply text; default: JSON built from the requested schema (or format instruction), else "ok". */
  reply?: string | ((req: FakeRequest) => string | Record<string, unknown>);
  /** Value to answer for enum fields, by field name (default: the first allowed value). */
  choose?: Record<string, string | ((req: FakeRequest) => string)>;
  /** Delay before each chunk, ms. */
  chunkDelayMs?: number;
  /** Characters per chunk. */
  chunkSize?: number;
  /** Stop sending (connection left open) after this many chunks, for the next `times` requests. */
  hang?: { afterChunks: number; times?: number };
  /** Answer with an HTTP error for the next `times` requests. */
  error?: { status: number; message: string; times?: number };
  /** Send an error line after `afterChunks` chunks, for the next `times` requests. */
  streamError?: { afterChunks: number; message: string; times?: number };
}

export interface FakeModelServer {
  /** Base URL for Ollama; OpenAI-compatible clients use `${url}/v1`. */
  url: string;
  port: number;
  requests: FakeRequest[];
  setBehaviour(model: string, behaviour: ModelBehaviour): void;
  /** Behaviour for models without their own. */
  setDefault(behaviour: ModelBehaviour): void;
  inFlight(model: string): number;
  maxInFlight(model: string): number;
  /** Most requests in flight at once over all models. */
  maxInFlightTotal(): number;
  /** Let every hung response carry on to the end (a "late" reply). */
  releaseHangs(): void;
  resetStats(): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface JsonSchema {
  properties?: Record<string, { type?: string; enum?: string[] }>;
}

function valueFor(name: string, type: string | undefined, values: string[] | undefined, req: FakeRequest, b: ModelBehaviour): unknown {
  const pick = b.choose?.[name];
  if (values) {
    const v = typeof pick === 'function' ? pick(req) : pick;
    return v ?? values[0];
  }
  switch (type) {
    case 'number':
      return 0.9;
    case 'integer':
      return 1;
    case 'boolean':
      return typeof pick === 'string' ? pick === 'true' : true;
    case 'object':
      return {};
    case 'array':
      return [];
    default:
      return typeof pick === 'function' ? pick(req) : (pick ?? `${name} from ${req.model}`);
  }
}

/** Parses the "Respond with only a JSON object with these fields: ..." line of a prompt. */
function fieldsFromInstruction(prompt: string): Array<{ name: string; type?: string; values?: string[] }> | undefined {
  const m = /these fields: (.*)\.\s*$/m.exec(prompt);
  if (!m) return undefined;
  return [...m[1]!.matchAll(/"(\w+)": (one of ((?:"[^"]*"(?: \| )?)+)|\w+)/g)].map((f) => ({
    name: f[1]!,
    type: f[3] ? 'string' : f[2],
    values: f[3] ? [...f[3].matchAll(/"([^"]*)"/g)].map((v) => v[1]!) : undefined,
  }));
}

function generateReply(req: FakeRequest, b: ModelBehaviour): string {
  if (typeof b.reply === 'string') return b.reply;
  if (typeof b.reply === 'function') {
    const r = b.reply(req);
    return typeof r === 'string' ? r : JSON.stringify(r);
  }
  const body = req.body;
  let schema: JsonSchema | undefined;
  if (req.provider === 'ollama' && typeof body.format === 'object') schema = body.format as JsonSchema;
  const rf = body.response_format as { type?: string; json_schema?: { schema?: JsonSchema } } | undefined;
  if (req.provider === 'openai' && rf?.json_schema?.schema) schema = rf.json_schema.schema;
  const fields = schema?.properties
    ? Object.entries(schema.properties).map(([name, p]) => ({ name, type: p.type, values: p.enum }))
    : fieldsFromInstruction(req.prompt);
  if (!fields) return `ok from ${req.model}`;
  return JSON.stringify(Object.fromEntries(fields.map((f) => [f.name, valueFor(f.name, f.type, f.values, req, b)])));
}

function chunk(text: string, size: number): string[] {
  if (text.length === 0) return [''];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

export async function startFakeModelServer(opts: { port?: number; host?: string } = {}): Promise<FakeModelServer> {
  const behaviours = new Map<string, ModelBehaviour>();
  let fallback: ModelBehaviour = {};
  const requests: FakeRequest[] = [];
  const inFlight = new Map<string, number>();
  const maxInFlight = new Map<string, number>();
  let total = 0;
  let maxTotal = 0;
  let hangWaiters: Array<() => void> = [];
  const sockets = new Set<Socket>();
  let nextId = 1;

  const take = <K extends 'hang' | 'error' | 'streamError'>(b: ModelBehaviour, key: K): ModelBehaviour[K] | undefined => {
    const v = b[key];
    if (!v) return undefined;
    if (v.times === undefined) return v;
    if (v.times <= 0) return undefined;
    v.times--;
    return v;
  };

  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const provider =
      path === '/api/chat' ? 'ollama' : path === '/v1/chat/completions' || path === '/chat/completions' ? 'openai' : undefined;
    if (req.method === 'GET' && path === '/api/tags') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ models: [...behaviours.keys()].map((name) => ({ name })) }));
      return;
    }
    if (req.method !== 'POST' || !provider) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${req.method} ${path}` }));
      return;
    }
    let raw = '';
    for await (const c of req) raw += c;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid JSON body' }));
      return;
    }
    const model = String(body.model ?? '');
    const messages = (body.messages as Array<{ role: string; content: string }>) ?? [];
    const prompt = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    const record: FakeRequest = { id: nextId++, provider, model, body, headers: req.headers, prompt, chunksSent: 0 };
    requests.push(record);
    const b = behaviours.get(model) ?? fallback;

    const now = (inFlight.get(model) ?? 0) + 1;
    inFlight.set(model, now);
    maxInFlight.set(model, Math.max(maxInFlight.get(model) ?? 0, now));
    total++;
    maxTotal = Math.max(maxTotal, total);
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      inFlight.set(model, (inFlight.get(model) ?? 1) - 1);
      total--;
    };
    res.on('close', () => {
      if (!res.writableFinished) record.outcome ??= 'aborted';
      finish();
    });

    const error = take(b, 'error');
    if (error) {
      record.outcome = 'http_error';
      const payload = provider === 'ollama' ? { error: error.message } : { error: { message: error.message, type: 'fake_error' } };
      res.writeHead(error.status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      return;
    }
    const hang = take(b, 'hang');
    const streamError = take(b, 'streamError');
    const parts = chunk(generateReply(record, b), b.chunkSize ?? 8);
    const created = Math.floor(Date.now() / 1000);
    res.writeHead(200, {
      'content-type': provider === 'ollama' ? 'application/x-ndjson' : 'text/event-stream',
      'cache-control': 'no-cache',
    });
    res.flushHeaders();
    const send = (payload: unknown) => {
      if (closed) return;
      res.write(provider === 'ollama' ? `${JSON.stringify(payload)}\n` : `data: ${JSON.stringify(payload)}\n\n`);
    };
    for (let i = 0; i < parts.length; i++) {
      if (closed) return;
      if (hang && i === hang.afterChunks) await new Promise<void>((r) => hangWaiters.push(r));
      if (streamError && i === streamError.afterChunks) {
        record.outcome = 'error';
        send(provider === 'ollama' ? { error: streamError.message } : { error: { message: streamError.message } });
        res.end();
        return;
      }
      if (b.chunkDelayMs) await sleep(b.chunkDelayMs);
      if (closed) return;
      send(
        provider === 'ollama'
          ? { model, created_at: new Date().toISOString(), message: { role: 'assistant', content: parts[i] }, done: false }
          : {
              id: `chatcmpl-${record.id}`,
              object: 'chat.completion.chunk',
              created,
              model,
              choices: [{ index: 0, delta: { content: parts[i] }, finish_reason: null }],
            },
      );
      record.chunksSent++;
    }
    if (closed) return;
    if (provider === 'ollama') {
      send({
        model,
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: '' },
        done: true,
        done_reason: 'stop',
        prompt_eval_count: prompt.length,
        eval_count: parts.length,
      });
    } else {
      send({
        id: `chatcmpl-${record.id}`,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      });
      send({
        id: `chatcmpl-${record.id}`,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [],
        usage: { prompt_tokens: prompt.length, completion_tokens: parts.length },
      });
      res.write('data: [DONE]\n\n');
    }
    record.outcome = 'done';
    res.end();
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    setBehaviour: (model, behaviour) => void behaviours.set(model, behaviour),
    setDefault: (behaviour) => void (fallback = behaviour),
    inFlight: (model) => inFlight.get(model) ?? 0,
    maxInFlight: (model) => maxInFlight.get(model) ?? 0,
    maxInFlightTotal: () => maxTotal,
    releaseHangs() {
      const waiters = hangWaiters;
      hangWaiters = [];
      for (const w of waiters) w();
    },
    resetStats() {
      requests.length = 0;
      maxInFlight.clear();
      maxTotal = total;
    },
    async close() {
      const waiters = hangWaiters;
      hangWaiters = [];
      for (const s of sockets) s.destroy();
      for (const w of waiters) w();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Standalone: a stand-in for Ollama when trying the examples without a GPU.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--port');
  const delay = process.argv.indexOf('--chunk-delay');
  const srv = await startFakeModelServer({ port: i > 0 ? Number(process.argv[i + 1]) : 11434 });
  if (delay > 0) srv.setDefault({ chunkDelayMs: Number(process.argv[delay + 1]) });
  console.log(`fake model server on ${srv.url} (Ollama /api/chat, OpenAI ${srv.url}/v1/chat/completions)`);
}
