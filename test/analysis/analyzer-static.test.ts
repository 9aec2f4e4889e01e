import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countFindings, listAnalyzerRuns, listFindings } from '../../src/db/analysis/findings-query.js';
import { tempDir } from '../support/harness.js';
import { ensureTools, analyzerHarness, APPS, closePool, lineOf, pool, ROOT } from './analyzer-support.js';

// The static analyzer is real ESLint + eslint-plugin-security, run as a step over a copy of the
// example app's source; findings land in PostgreSQL and only counts come back.

beforeAll(ensureTools, 300_000);
afterAll(closePool);

describe('static analyzer (ESLint + eslint-plugin-security)', () => {
  it("finds the calculator's eval of a query parameter and its unchecked file read", async () => {
    const h = analyzerHarness();
    const target = { model: 'qwen-coder', app: 'app2', sourceDir: `${APPS}/qwen-coder-app2` };
    const out = await h.run({ target, analyzer: 'static' });
    expect(out).toMatchObject({ analyzer: 'static', status: 'completed' });
    const source = readFileSync(path.join(ROOT, APPS, 'qwen-coder-app2/server.js'), 'utf8');
    const evalLine = lineOf(source, 'result = eval(expr)');
    const rows = await listFindings(pool(), { pipelineId: h.pipelineId, analyzer: 'static' });
    const at = (rule: string) => rows.filter((r) => r.rule === rule).map((r) => r.location);
    expect(at('security/detect-eval-with-expression')).toEqual([expect.stringMatching(new RegExp(`^server\\.js:${evalLine}:`))]);
    expect(at('no-eval')[0]).toMatch(new RegExp(`^server\\.js:${evalLine}:`));
    expect(at('security/detect-non-literal-fs-filename')).toHaveLength(1);
    expect(rows.find((r) => r.rule === 'no-eval')!.severity).toBe('high');
    expect(out.findings).toBe(rows.length);
    expect(out.bySeverity.high).toBeGreaterThanOrEqual(2);
    // The report stays in the workspace as SARIF; the outcome only points at it.
    const sarif = JSON.parse(readFileSync(out.reportRef!, 'utf8'));
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0].results).toHaveLength(out.findings);
    expect(h.heartbeats.some((b) => (b as { phase?: string }).phase === 'eslint')).toBe(true);
    const [run] = await listAnalyzerRuns(pool(), h.pipelineId);
    expect(run).toMatchObject({ analyzer: 'static', status: 'completed', findings: out.findings, attempt: 1 });
  });

  it('does not start under the disk floor: heartbeats the reason, fails DiskFloor (retryable) at its deadline, copies nothing', async () => {
    const h = analyzerHarness();
    h.deps.diskFloor = { percent: 99.99 };
    const target = { model: 'qwen-coder', app: 'app2', sourceDir: `${APPS}/qwen-coder-app2` };
    const err = await h.run({ target, analyzer: 'static' }, { startToCloseTimeoutMs: 1500, heartbeatTimeoutMs: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'DiskFloor', nonRetryable: false, message: expect.stringMatching(/under the floor of/) });
    expect(h.heartbeats).toContainEqual(expect.objectContaining({ phase: 'waiting', waiting: expect.stringMatching(/^disk floor: /) }));
    expect(existsSync(h.deps.runsDir), 'no workspace was prepared').toBe(false);
  });

  it('finds the inventory API regular expression built from input, and nothing high in the clean guestbook', async () => {
    const h = analyzerHarness();
    await h.run({ target: { model: 'llama-coder', app: 'app2', sourceDir: `${APPS}/llama-coder-app2` }, analyzer: 'static' });
    const clean = await h.run({ target: { model: 'llama-coder', app: 'app1', sourceDir: `${APPS}/llama-coder-app1` }, analyzer: 'static' });
    const inventory = await listFindings(pool(), { pipelineId: h.pipelineId, app: 'app2' });
    expect(inventory.map((r) => r.rule)).toContain('security/detect-non-literal-regexp');
    expect(clean.status).toBe('completed');
    expect(clean.bySeverity.high ?? 0).toBe(0);
  });

  it("ignores the analysed tree's own ESLint config (a config there cannot switch the rules off), its node_modules and links out of it", async () => {
    const root = tempDir('static-own-config');
    const src = path.join(root, 'app');
    mkdirSync(src);
    writeFileSync(path.join(src, 'eslint.config.js'), 'module.exports = [{ rules: {} }];\n');
    writeFileSync(path.join(src, 'index.js'), 'module.exports = (s) => eval(s);\n');
    mkdirSync(path.join(src, 'node_modules', 'dep'), { recursive: true });
    writeFileSync(path.join(src, 'node_modules', 'dep', 'index.js'), 'module.exports = (s) => eval(s);\n');
    // A link out of the tree is not followed into the analysis.
    writeFileSync(path.join(root, 'outside.js'), 'module.exports = (s) => eval(s);\n');
    symlinkSync(path.join(root, 'outside.js'), path.join(src, 'linked.js'));
    const h = analyzerHarness({ projectDir: root });
    const out = await h.run({ target: { model: 'm', app: 'a', sourceDir: 'app' }, analyzer: 'static' });
    const rules = (await listFindings(pool(), { pipelineId: h.pipelineId })).map((r) => r.rule);
    expect(rules).toContain('security/detect-eval-with-expression');
    expect(out.findings).toBeGreaterThan(0);
    const locations = (await listFindings(pool(), { pipelineId: h.pipelineId })).map((r) => r.location);
    expect(locations.every((l) => l.startsWith('index.js:'))).toBe(true);
  });

  it('stores a 300+-finding report and returns only counts and a reference', async () => {
    const root = tempDir('static-big');
    const src = path.join(root, 'generated');
    mkdirSync(src);
    // 40 files x 4 flawed functions, each function hit by 2+ rules: well over 300 findings.
    for (let f = 0; f < 40; f++) {
      const body = Array.from(
        { length: 4 },
        (_, i) =>
          `exports.f${i} = function (req) {\n  const r = eval(req.query.x${i});\n  require('fs').readFileSync(req.query.p${i});\n  return new RegExp(req.query.r${i}).test(r);\n};\n`,
      ).join('');
      writeFileSync(path.join(src, `mod${f}.js`), body);
    }
    const h = analyzerHarness({ projectDir: root });
    const out = await h.run({ target: { model: 'big', app: 'app1', sourceDir: 'generated' }, analyzer: 'static' });
    expect(out.status).toBe('completed');
    expect(out.findings).toBeGreaterThanOrEqual(300);
    expect(await countFindings(pool(), { pipelineId: h.pipelineId })).toBe(out.findings);
    expect(await countFindings(pool(), { pipelineId: h.pipelineId, severity: 'high' })).toBe(out.bySeverity.high);
    const page2 = await listFindings(pool(), { pipelineId: h.pipelineId, limit: 100, offset: 100 });
    expect(page2).toHaveLength(100);
    // What goes back through Temporal is a few hundred bytes whatever the report's size.
    expect(JSON.stringify(out).length).toBeLessThan(2000);
    expect(readFileSync(out.reportRef!, 'utf8').length).toBeGreaterThan(50_000);
  });

  it('rejects a source directory outside the project, naming the field', async () => {
    const h = analyzerHarness();
    const err = await h.run({ target: { model: 'm', app: 'a', sourceDir: '../../etc' }, analyzer: 'static' }).catch((e) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: 'InvalidAnalyzerInput', nonRetryable: true });
    expect(err.message).toContain('input.target.sourceDir');
  });
});
