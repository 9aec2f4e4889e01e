import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { analysisHandle } from '../../src/client/analysis.js';
import { listAnalyzerRuns, listFindings } from '../../src/db/analysis/findings-query.js';
import { startFakeModelServer, type FakeModelServer } from '../support/fake-ollama.js';
import { startTestWorker, tempDir, type TestWorker } from '../support/harness.js';
import {
  ensureTestContainers,
  exampleInput,
  outcome,
  pipelineContainers,
  REVIEW_MODEL,
  target,
  testDocker,
  uniquePipelineId,
  waitFor,
} from './e2e-support.js';
import { closePool, pool } from './analyzer-support.js';
import { ensureTemporalCli } from '../../scripts/lib/temporal-cli.js';

// The example pipeline end to end, started the way the README says (temporal workflow start
// --input-file), with real containers built from the example apps, real tools and a real worker:
// each deliberate flaw is found by the analyzer meant to find it, and no container is left.

let fake: FakeModelServer;
let w: TestWorker;
const savedModels = process.env.SHEPHERD_MODELS;

beforeAll(async () => {
  await ensureTestContainers();
  fake = await startFakeModelServer();
  // The reviewer flags eval( lines it is shown, by file and line.
  fake.setBehaviour(REVIEW_MODEL, {
    reply: (req) => {
      const findings: object[] = [];
      let file = '';
      for (const line of req.prompt.split('\n')) {
        const h = /^=== file: (.+)$/.exec(line);
        if (h) file = h[1]!;
        const m = /^(\d+): .*\beval\(/.exec(line);
        if (m) findings.push({ rule: 'eval-of-input', severity: 'critical', file, line: Number(m[1]), message: 'input evaluated as code' });
      }
      return { findings };
    },
  });
  process.env.SHEPHERD_MODELS = JSON.stringify({ models: { [REVIEW_MODEL]: { provider: 'ollama', baseUrl: fake.url } } });
  w = await startTestWorker({ maxConcurrentActivityTaskExecutions: 8 });
});
afterAll(async () => {
  await w?.stop();
  await fake?.close();
  await closePool();
  if (savedModels === undefined) delete process.env.SHEPHERD_MODELS;
  else process.env.SHEPHERD_MODELS = savedModels;
});

describe('examples/analysis/four-apps.json end to end', () => {
  it('finds every deliberate flaw with real containers and tools, and leaves no container', async () => {
    const pipelineId = uniquePipelineId('e2e');
    const inputFile = path.join(tempDir('e2e-input'), 'four-apps.json');
    writeFileSync(inputFile, JSON.stringify(exampleInput('four-apps.json', pipelineId)));
    const cli = await ensureTemporalCli();
    const workflowId = `analysis-pipeline-${pipelineId}`;
    await execa(cli, [
      'workflow',
      'start',
      '--type',
      'analysisPipeline',
      '--task-queue',
      w.taskQueue,
      '--workflow-id',
      workflowId,
      '--input-file',
      inputFile,
      '--address',
      inject('temporalAddress'),
    ]);
    const result = await analysisHandle(w.client, pipelineId).result();

    expect(result.status).toBe('completed');
    for (const t of result.targets) {
      expect(t.status, `${t.model}/${t.app}: ${JSON.stringify(t.analyzers)}`).toBe('completed');
      expect(t.analyzers.map((a) => `${a.analyzer}:${a.status}`).sort()).toEqual([
        'ai-review:completed',
        'dynamic:completed',
        'performance:completed',
        'static:completed',
      ]);
    }
    const find = (model: string, app: string, analyzer: string) => listFindings(pool(), { pipelineId, model, app, analyzer, limit: 1000 });
    // Notes app: reflected search term and missing headers, found by scanning the container.
    expect((await find('qwen-coder', '1', 'dynamic')).map((f) => `${f.rule} ${f.location}`)).toEqual(
      expect.arrayContaining(['reflected-unescaped-parameter /search?q', 'missing-security-header/content-security-policy /']),
    );
    // Calculator: eval of the query, found in the source by ESLint and by the reviewer.
    expect((await find('qwen-coder', '2', 'static')).map((f) => f.rule)).toEqual(
      expect.arrayContaining(['security/detect-eval-with-expression', 'no-eval']),
    );
    expect((await find('qwen-coder', '2', 'ai-review')).map((f) => f.rule)).toEqual(['ai/eval-of-input']);
    // Inventory API: its 500s under load.
    expect((await find('llama-coder', '2', 'performance')).map((f) => f.rule)).toContain('perf/non-2xx-under-load');
    // Guestbook (the clean one): no header or reflection findings.
    expect(
      (await find('llama-coder', '1', 'dynamic')).filter(
        (f) => f.rule.startsWith('missing-security-header/') || f.rule === 'reflected-unescaped-parameter',
      ),
    ).toEqual([]);
    // Counts that came back through Temporal match what is stored.
    const runs = await listAnalyzerRuns(pool(), pipelineId);
    expect(runs).toHaveLength(16);
    for (const r of runs) expect(r.findings).toBe(outcome(target(result, r.model, r.app), r.analyzer).findings);
    expect(result.findings).toBe(runs.reduce((n, r) => n + r.findings, 0));
    // The containers went with their targets.
    await waitFor(
      async () => (await pipelineContainers(testDocker(), pipelineId)).length === 0,
      'no container of the pipeline left',
      30_000,
    );
  });
});
