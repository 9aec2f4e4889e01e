import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { OutputSpec } from '../../shared/conversations/schemas.js';
import { loadModelRegistry, type ModelConfig, type ModelRegistry } from '../../config/models.js';
import { parseReply } from '../../shared/conversations/output.js';
import { ModelCallError, streamChat, type ModelCallInput } from '../conversations/llm.js';
import type { AnalyzerResult } from './analyzer-result.js';
import { isSeverity, type Finding } from './findings.js';
import type { AnalyzerEnv } from './step.js';

// AI review: the app's source, with line numbers, to a model from the worker's model registry
// through the project's streaming LLM client (every chunk is a heartbeat), and findings parsed
// from its JSON answer. Elements that do not have the finding shape are dropped and counted.

export interface AiReviewConfig {
  /** Registry key; default SHEPHERD_ANALYSIS_MODEL, else the registry's only model. */
  model?: string;
  /** Source sent to the model is cut at this many characters; default 60000. */
  maxSourceChars?: number;
}

const SOURCE_FILE = /\.(c|m)?[jt]sx?$|\.html?$|\.json$/;
const OUTPUT: OutputSpec = {
  format: 'json',
  fields: { findings: { type: 'array', description: 'security and robustness problems found' } },
};

export const SYSTEM_PROMPT =
  'You are a security reviewer of web application source code. Report concrete, exploitable problems ' +
  '(injection, XSS, eval of input, path traversal, missing security headers, unsafe defaults). ' +
  'Answer with JSON: {"findings": [{"rule": "short-kebab-id", "severity": "critical|high|medium|low|info", ' +
  '"file": "path as given", "line": number, "message": "one sentence"}]}. An empty list is a valid answer.';

const reviewedFinding = z.object({
  rule: z.string().min(1).max(200),
  severity: z.string().transform((s) => s.toLowerCase()),
  file: z.string().min(1).max(500),
  line: z.coerce.number().int().min(0).optional(),
  message: z.string().min(1),
});

/** Source files (sorted, node_modules skipped), each line prefixed with its number. */
export async function sourceForReview(root: string, maxChars: number): Promise<{ text: string; files: number; truncated: boolean }> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  const files = entries
    .filter((e) => e.isFile() && SOURCE_FILE.test(e.name) && e.name !== 'package-lock.json')
    .map((e) => path.relative(root, path.join(e.parentPath ?? root, e.name)))
    .filter((rel) => !rel.split(path.sep).includes('node_modules'))
    .sort();
  let text = '';
  let truncated = false;
  for (const rel of files) {
    const content = await readFile(path.join(root, rel), 'utf8');
    const numbered = content
      .split('\n')
      .map((l, i) => `${i + 1}: ${l}`)
      .join('\n');
    const block = `=== file: ${rel.split(path.sep).join('/')}\n${numbered}\n`;
    if (text.length + block.length > maxChars) {
      truncated = true;
      text += block.slice(0, Math.max(0, maxChars - text.length));
      break;
    }
    text += block;
  }
  return { text, files: files.length, truncated };
}

export function normalizeReview(raw: unknown[]): { findings: Finding[]; dropped: number } {
  const findings: Finding[] = [];
  let dropped = 0;
  for (const item of raw) {
    const parsed = reviewedFinding.safeParse(item);
    if (!parsed.success) {
      dropped++;
      continue;
    }
    const f = parsed.data;
    findings.push({
      rule: `ai/${f.rule}`,
      severity: isSeverity(f.severity) ? f.severity : 'medium',
      location: `${f.file}:${f.line ?? 0}`,
      message: f.message,
    });
  }
  return { findings, dropped };
}

export function pickModel(
  registry: ModelRegistry,
  config: AiReviewConfig,
  env: NodeJS.ProcessEnv = process.env,
): { name: string; cfg: ModelConfig } {
  const names = Object.keys(registry.models);
  const name = config.model ?? env.SHEPHERD_ANALYSIS_MODEL ?? (names.length === 1 ? names[0] : undefined);
  if (!name) {
    throw ApplicationFailure.nonRetryable(
      `ai-review: no model chosen (config.model, or SHEPHERD_ANALYSIS_MODEL; the registry has ${names.length === 0 ? 'no models (SHEPHERD_MODELS_FILE)' : names.join(', ')})`,
      'UnknownModel',
    );
  }
  const cfg = registry.models[name];
  if (!cfg)
    throw ApplicationFailure.nonRetryable(
      `ai-review: model '${name}' is not in this worker's model registry (SHEPHERD_MODELS_FILE)`,
      'UnknownModel',
    );
  return { name, cfg };
}

export async function runAiReview(
  env: AnalyzerEnv,
  sourceRoot: string,
  config: AiReviewConfig,
  registry: ModelRegistry | undefined,
  heartbeatTimeoutMs?: number,
): Promise<AnalyzerResult> {
  const { name, cfg } = pickModel(registry ?? loadModelRegistry(), config);
  const tool = { name: `llm:${name}` };
  const source = await sourceForReview(sourceRoot, config.maxSourceChars ?? 60_000);
  if (source.files === 0) throw ApplicationFailure.nonRetryable(`target.sourceDir holds no source files to review`, 'InvalidAnalyzerInput');
  const input: ModelCallInput = {
    model: name,
    system: SYSTEM_PROMPT,
    prompt: `Review this application (${source.files} files${source.truncated ? ', cut to fit' : ''}):\n\n${source.text}`,
    output: OUTPUT,
    temperature: 0,
  };
  await writeFile(path.join(env.workspace, 'prompt.txt'), `${input.system}\n\n${input.prompt}`);
  env.heartbeat({ analyzer: env.analyzer, phase: 'requesting', model: name });
  let text: string;
  try {
    const r = await streamChat(cfg, input, {
      signal: env.signal,
      idleTimeoutMs: heartbeatTimeoutMs ? heartbeatTimeoutMs + Math.max(1000, heartbeatTimeoutMs / 2) : undefined,
      onChunk: (p) => env.heartbeat({ analyzer: env.analyzer, phase: 'streaming', ...p }),
    });
    text = r.text;
  } catch (err) {
    if (err instanceof ModelCallError)
      throw ApplicationFailure.create({ message: `ai-review: ${err.message}`, type: err.type, nonRetryable: !err.retryable });
    throw err;
  }
  await writeFile(path.join(env.workspace, 'reply.txt'), text);
  const parsed = parseReply(OUTPUT, text);
  if (!parsed.ok) {
    // Retryable: another sample from the model may well be valid.
    throw ApplicationFailure.create({
      message: `ai-review: model '${name}' reply is unusable: ${parsed.error}`,
      type: 'InvalidModelOutput',
      details: [{ reply: text.slice(0, 2000) }],
    });
  }
  const { findings, dropped } = normalizeReview(parsed.value.findings as unknown[]);
  return { status: 'completed', findings, metrics: { filesReviewed: source.files, droppedItems: dropped }, tool };
}
