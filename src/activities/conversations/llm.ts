import { ApplicationFailure, Context } from '@temporalio/activity';
import type pg from 'pg';
import { request } from 'undici';
import type { OutputSpec } from '../../shared/conversations/schemas.js';
import type { ModelConfig, ModelRegistry } from '../../config/models.js';
import type { Logger } from '../../config/logger.js';
import { formatInstruction, jsonSchemaFor, parseReply } from '../../shared/conversations/output.js';
import { recordCarriedAttempts, type AttemptRecord } from './audit.js';

// LLM calls over HTTP, streaming: Ollama's /api/chat (NDJSON) or an OpenAI-compatible
// /chat/completions (SSE), chosen per model by the worker's registry. Every streamed chunk is a
// heartbeat, so the heartbeat timeout separates "slow but talking" from "stuck" in seconds — the
// seed's reaper could only guess from a global threshold. No connection is held while a model
// thinks (the seed exhausted its pool that way): the only write, before the request, is of the
// audit rows the workflow hands the call (earlier attempts'), never the call's own outcome, so a
// late reply from a timed-out attempt has nowhere to write.

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ModelCallInput {
  /** Registry key, e.g. "qwen2.5:7b". */
  model: string;
  system?: string;
  prompt: string;
  output: OutputSpec;
  temperature?: number;
  maxTokens?: number;
  /** Earlier attempts' audit rows, written before the model is called (src/db/conversations/attempts.ts). */
  audit?: AttemptRecord[];
}

export interface ModelCallResult {
  /** The parsed step output: {text} or the checked JSON object. */
  output: Record<string, unknown>;
  text: string;
  latencyMs: number;
  firstChunkMs?: number;
  chunks: number;
  promptTokens?: number;
  completionTokens?: number;
  provider: ModelConfig['provider'];
  /** How many of the input's audit rows are in the audit log; absent when it carried none. */
  auditRecorded?: number;
}

export interface StreamOptions {
  signal?: AbortSignal;
  /** Called for every chunk received (the activity heartbeats here). */
  onChunk?: (progress: { chunks: number; chars: number }) => void;
  /** Abort when no byte arrives for this long; frees the model slot of a hung call. */
  idleTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface StreamResult {
  text: string;
  chunks: number;
  firstChunkMs?: number;
  latencyMs: number;
  promptTokens?: number;
  completionTokens?: number;
}

/** Errors with a Temporal failure type; `retryable: false` means another attempt cannot help. */
export class ModelCallError extends Error {
  constructor(
    message: string,
    readonly type: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ModelCallError';
  }
}

export function buildMessages(input: ModelCallInput): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (input.system) messages.push({ role: 'system', content: input.system });
  let prompt = input.prompt;
  // Even with a schema, the instruction helps models that ignore `format`; it costs a line.
  if (input.output.format === 'json') prompt = `${prompt}\n\n${formatInstruction(input.output.fields)}`;
  messages.push({ role: 'user', content: prompt });
  return messages;
}

function requestFor(cfg: ModelConfig, modelName: string, input: ModelCallInput, env: NodeJS.ProcessEnv) {
  const messages = buildMessages(input);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: cfg.provider === 'ollama' ? 'application/x-ndjson' : 'text/event-stream',
  };
  if (cfg.apiKeyEnv) {
    const key = env[cfg.apiKeyEnv];
    if (!key)
      throw new ModelCallError(
        `model '${input.model}' needs the API key in env ${cfg.apiKeyEnv}, which is not set`,
        'MissingApiKey',
        false,
      );
    headers.authorization = `Bearer ${key}`;
  }
  const schema = input.output.format === 'json' ? jsonSchemaFor(input.output.fields) : undefined;
  const base = cfg.baseUrl.replace(/\/+$/, '');
  if (cfg.provider === 'ollama') {
    const options: Record<string, unknown> = { ...cfg.options };
    if (input.temperature !== undefined) options.temperature = input.temperature;
    if (input.maxTokens !== undefined) options.num_predict = input.maxTokens;
    const body: Record<string, unknown> = { model: modelName, messages, stream: true, options };
    if (schema && cfg.jsonMode === 'schema') body.format = schema;
    else if (schema && cfg.jsonMode === 'object') body.format = 'json';
    return { url: `${base}/api/chat`, headers, body };
  }
  const body: Record<string, unknown> = { model: modelName, messages, stream: true, stream_options: { include_usage: true } };
  if (input.temperature !== undefined) body.temperature = input.temperature;
  if (input.maxTokens !== undefined) body.max_tokens = input.maxTokens;
  if (schema && cfg.jsonMode === 'schema') body.response_format = { type: 'json_schema', json_schema: { name: 'step_output', schema } };
  else if (schema && cfg.jsonMode === 'object') body.response_format = { type: 'json_object' };
  return { url: `${base}/chat/completions`, headers, body };
}

function httpError(status: number, body: string, model: string): ModelCallError {
  let detail = body.slice(0, 300);
  try {
    const parsed = JSON.parse(body) as { error?: string | { message?: string } };
    const e = parsed.error;
    detail = typeof e === 'string' ? e : (e?.message ?? detail);
  } catch {
    /* not JSON */
  }
  const message = `model '${model}' answered HTTP ${status}${detail ? `: ${detail}` : ''}`;
  // 408/409/425/429 and 5xx pass (overload, restart, model loading); other 4xx answer the same
  // way every time (unknown model, bad key, bad request).
  if (status === 408 || status === 409 || status === 425 || status === 429 || status >= 500) {
    return new ModelCallError(message, 'ModelUnavailable', true, status);
  }
  return new ModelCallError(message, 'ModelRequestRejected', false, status);
}

/** Streams one chat call to the end and returns the whole reply. */
export async function streamChat(cfg: ModelConfig, input: ModelCallInput, opts: StreamOptions = {}): Promise<StreamResult> {
  const modelName = cfg.model ?? input.model;
  const req = requestFor(cfg, modelName, input, opts.env ?? process.env);
  // One signal ends the request: the caller's cancellation or the idle watchdog (relayed rather
  // than combined with AbortSignal.any, which showed in the profile of every model call).
  const abort = new AbortController();
  const relay = () => abort.abort(opts.signal?.reason);
  if (opts.signal?.aborted) relay();
  else opts.signal?.addEventListener('abort', relay, { once: true });
  let stalled = false;
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = () => {
    if (!opts.idleTimeoutMs) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      stalled = true;
      abort.abort();
    }, opts.idleTimeoutMs);
  };
  const t0 = performance.now();
  let firstChunkMs: number | undefined;
  let chunks = 0;
  let text = '';
  let promptTokens: number | undefined;
  let completionTokens: number | undefined;
  let done = false;

  const fail = (err: unknown): never => {
    if (opts.signal?.aborted) throw opts.signal.reason ?? err;
    if (stalled) {
      throw new ModelCallError(
        `model '${input.model}' sent nothing for ${opts.idleTimeoutMs} ms (after ${chunks} chunks); call abandoned`,
        'ModelStalled',
        true,
      );
    }
    if (err instanceof ModelCallError) throw err;
    const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    throw new ModelCallError(
      `model '${input.model}' at ${cfg.baseUrl} unreachable: ${e.cause?.code ?? e.code ?? e.cause?.message ?? e.message}`,
      'ModelUnreachable',
      true,
    );
  };

  try {
    armIdle();
    let res: Awaited<ReturnType<typeof request>>;
    try {
      // undici's request, not fetch: the same client without WHATWG streams, at a fraction of the CPU.
      res = await request(req.url, { method: 'POST', headers: req.headers, body: JSON.stringify(req.body), signal: abort.signal });
    } catch (err) {
      return fail(err);
    }
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const body = await res.body.text().catch(() => '');
      throw httpError(res.statusCode, body, input.model);
    }
    // Not the body's setEncoding: undici's decodes each chunk alone, garbling a character split across two.
    const decoder = new TextDecoder();
    let buffer = '';
    const onText = (delta: string) => {
      if (delta) text += delta;
    };
    const handleLine = (line: string) => {
      if (cfg.provider === 'ollama') {
        if (!line.trim()) return;
        const msg = parseLine(line, input.model);
        if (typeof msg.error === 'string')
          throw new ModelCallError(`model '${input.model}' failed mid-stream: ${msg.error}`, 'ModelStreamError', true);
        onText((msg.message as { content?: string } | undefined)?.content ?? '');
        if (msg.done === true) {
          done = true;
          promptTokens = typeof msg.prompt_eval_count === 'number' ? msg.prompt_eval_count : undefined;
          completionTokens = typeof msg.eval_count === 'number' ? msg.eval_count : undefined;
        }
        return;
      }
      // SSE: only `data:` lines matter; events are separated by blank lines.
      if (!line.startsWith('data:')) return;
      const data = line.slice(5).trim();
      if (data === '[DONE]') {
        done = true;
        return;
      }
      const msg = parseLine(data, input.model);
      if (msg.error) {
        const e = msg.error as { message?: string } | string;
        throw new ModelCallError(
          `model '${input.model}' failed mid-stream: ${typeof e === 'string' ? e : (e.message ?? JSON.stringify(e))}`,
          'ModelStreamError',
          true,
        );
      }
      const choice = (msg.choices as Array<{ delta?: { content?: string | null } }> | undefined)?.[0];
      onText(choice?.delta?.content ?? '');
      const usage = msg.usage as { prompt_tokens?: number; completion_tokens?: number } | undefined | null;
      if (usage) {
        promptTokens = usage.prompt_tokens;
        completionTokens = usage.completion_tokens;
      }
    };
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        armIdle();
        chunks++;
        firstChunkMs ??= performance.now() - t0;
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          handleLine(line);
        }
        opts.onChunk?.({ chunks, chars: text.length });
      }
      buffer += decoder.decode();
      if (buffer.trim()) handleLine(buffer.replace(/\r$/, ''));
    } catch (err) {
      return fail(err);
    }
    if (!done) {
      throw new ModelCallError(
        `model '${input.model}' closed the stream before it was done (${chunks} chunks, ${text.length} chars)`,
        'ModelStreamTruncated',
        true,
      );
    }
    return { text, chunks, firstChunkMs, latencyMs: performance.now() - t0, promptTokens, completionTokens };
  } finally {
    clearTimeout(idleTimer);
    opts.signal?.removeEventListener('abort', relay);
  }
}

function parseLine(line: string, model: string): Record<string, unknown> {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new ModelCallError(
      `model '${model}' sent a malformed stream line: ${JSON.stringify(line.slice(0, 120))}`,
      'ModelStreamError',
      true,
    );
  }
}

function toFailure(err: ModelCallError): ApplicationFailure {
  return ApplicationFailure.create({
    message: err.message,
    type: err.type,
    nonRetryable: !err.retryable,
    details: err.status ? [{ status: err.status }] : undefined,
  });
}

/**
 * One streamed call, its reply checked against the step's declared output; every failure leaves as
 * a Temporal failure with its type. Shared by the model worker's activity and the local call.
 */
export async function callAndCheck(
  cfg: ModelConfig,
  input: ModelCallInput,
  opts: StreamOptions,
  logger?: Logger,
): Promise<Omit<ModelCallResult, 'auditRecorded'>> {
  try {
    const r = await streamChat(cfg, input, opts);
    const parsed = parseReply(input.output, r.text);
    if (!parsed.ok) {
      throw ApplicationFailure.create({
        message: `model '${input.model}' reply does not match the step's output: ${parsed.error}`,
        type: 'InvalidModelOutput',
        details: [{ reply: r.text.slice(0, 2000) }],
      });
    }
    return {
      output: parsed.value,
      text: r.text,
      latencyMs: Math.round(r.latencyMs),
      firstChunkMs: r.firstChunkMs === undefined ? undefined : Math.round(r.firstChunkMs),
      chunks: r.chunks,
      promptTokens: r.promptTokens,
      completionTokens: r.completionTokens,
      provider: cfg.provider,
    };
  } catch (err) {
    if (err instanceof ModelCallError) {
      logger?.warn({ model: input.model, type: err.type, status: err.status }, err.message);
      throw toFailure(err);
    }
    throw err;
  }
}

function unknownModel(model: string | undefined): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`model '${model}' is not in this worker's model registry (SHEPHERD_MODELS_FILE)`, 'UnknownModel');
}

export function createLlmActivities(registry: ModelRegistry, logger?: Logger, pool?: pg.Pool) {
  return {
    /**
     * One attempt of one llm step. Runs on the model's own task queue (see model-limits.ts), so
     * it only starts when a slot for that model is free across all workers.
     */
    async callModel(input: ModelCallInput): Promise<ModelCallResult> {
      const cfg = registry.models[input?.model];
      if (!cfg) throw unknownModel(input?.model);
      const auditRecorded = await recordCarriedAttempts(pool, input.audit);
      const ctx = Context.current();
      const hb = ctx.info.heartbeatTimeoutMs;
      ctx.heartbeat({ phase: 'requesting', model: input.model });
      const r = await callAndCheck(
        cfg,
        input,
        {
          signal: ctx.cancellationSignal,
          // Temporal declares the attempt lost after `hb` of silence; this local watchdog then
          // frees the connection and the model slot instead of waiting for a reply nobody wants.
          idleTimeoutMs: hb ? hb + Math.max(1000, hb / 2) : undefined,
          onChunk: (p) => ctx.heartbeat({ phase: 'streaming', ...p }),
        },
        logger,
      );
      return { ...r, auditRecorded };
    },
  };
}
