import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelRegistry } from '../../src/config/models.js';
import { listFindings } from '../../src/db/analysis/findings-query.js';
import { startFakeModelServer, type FakeModelServer, type FakeRequest } from '../support/fake-ollama.js';
import { analyzerHarness, APPS, closePool, lineOf, pool, ROOT } from './analyzer-support.js';

// ai-review goes through the project's streaming LLM client and model registry to a local
// server speaking Ollama's real /api/chat protocol. The "model" here reviews what it is sent:
// it reports each numbered source line that evals or echoes input, so the finding's location
// proves the source (with line numbers) really reached it.

let fake: FakeModelServer;
let registry: ModelRegistry;
beforeAll(async () => {
  fake = await startFakeModelServer();
  registry = { models: { 'reviewer:7b': { provider: 'ollama', baseUrl: fake.url, maxConcurrency: 1, jsonMode: 'schema' } } };
});
afterAll(async () => {
  await fake.close();
  await closePool();
});

/** A reviewer that reads the "=== file:" blocks and flags eval( and unescaped ${q} echoes. */
function review(req: FakeRequest) {
  const findings: object[] = [];
  let file = '';
  for (const line of req.prompt.split('\n')) {
    const header = /^=== file: (.+)$/.exec(line);
    if (header) file = header[1]!;
    const m = /^(\d+): (.*)$/.exec(line);
    if (!m) continue;
    if (/\beval\(/.test(m[2]!))
      findings.push({ rule: 'eval-of-input', severity: 'critical', file, line: Number(m[1]), message: 'query input is evaluated as code' });
    if (/Results for \$\{q\}/.test(m[2]!))
      findings.push({ rule: 'reflected-xss', severity: 'HIGH', file, line: Number(m[1]), message: 'search term echoed unescaped' });
  }
  findings.push({ rule: 'not-a-finding' }); // malformed element: dropped, not stored
  return { findings };
}

describe('ai-review analyzer (LLM via the model registry)', () => {
  it('sends the numbered source and stores the findings from the JSON answer', async () => {
    fake.setBehaviour('reviewer:7b', { reply: review, chunkSize: 40 });
    const h = analyzerHarness({ registry });
    const out = await h.run({
      target: { model: 'qwen-coder', app: 'app2', sourceDir: `${APPS}/qwen-coder-app2` },
      analyzer: 'ai-review',
      config: { model: 'reviewer:7b' },
    });
    expect(out).toMatchObject({ analyzer: 'ai-review', status: 'completed', findings: 1, bySeverity: { critical: 1 } });
    const evalLine = lineOf(readFileSync(path.join(ROOT, APPS, 'qwen-coder-app2/server.js'), 'utf8'), 'result = eval(expr)');
    const rows = await listFindings(pool(), { pipelineId: h.pipelineId });
    expect(rows.map((r) => [r.rule, r.location, r.severity])).toEqual([['ai/eval-of-input', `server.js:${evalLine}`, 'critical']]);
    const req = fake.requests.at(-1)!;
    expect(req.body.format).toMatchObject({ properties: { findings: { type: 'array' } } });
    expect((out as { metrics?: Record<string, number> }).metrics).toMatchObject({ droppedItems: 1 });
    expect(h.heartbeats.some((b) => (b as { phase?: string }).phase === 'streaming')).toBe(true);
  });

  it('finds the reflected search term in the notes app, normalising the severity', async () => {
    fake.setBehaviour('reviewer:7b', { reply: review });
    const h = analyzerHarness({ registry });
    await h.run({ target: { model: 'qwen-coder', app: 'app1', sourceDir: `${APPS}/qwen-coder-app1` }, analyzer: 'ai-review' });
    const rows = await listFindings(pool(), { pipelineId: h.pipelineId });
    expect(rows).toEqual([
      expect.objectContaining({ rule: 'ai/reflected-xss', severity: 'high', location: expect.stringMatching(/^server\.js:\d+$/) }),
    ]);
  });

  it('an unusable reply is a retryable InvalidModelOutput failure and stores nothing', async () => {
    fake.setBehaviour('reviewer:7b', { reply: 'I think the code looks fine overall.' });
    const h = analyzerHarness({ registry });
    const err = await h
      .run({ target: { model: 'qwen-coder', app: 'app1', sourceDir: `${APPS}/qwen-coder-app1` }, analyzer: 'ai-review' })
      .catch((e) => e);
    expect(err).toMatchObject({ type: 'InvalidModelOutput', nonRetryable: false });
    expect(await listFindings(pool(), { pipelineId: h.pipelineId })).toEqual([]);
  });

  it('a model outside the registry fails non-retryably, naming it', async () => {
    const h = analyzerHarness({ registry });
    const err = await h
      .run({
        target: { model: 'qwen-coder', app: 'app1', sourceDir: `${APPS}/qwen-coder-app1` },
        analyzer: 'ai-review',
        config: { model: 'gpt-9' },
      })
      .catch((e) => e);
    expect(err).toMatchObject({ type: 'UnknownModel', nonRetryable: true, message: expect.stringContaining("'gpt-9'") });
  });
});
