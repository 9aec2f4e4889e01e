import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAnalyzerRuns, listFindings } from '../../src/db/analysis/findings-query.js';
import { ensureTools, analyzerHarness, closedAddress, closePool, pool, startExampleApp, type RunningApp } from './analyzer-support.js';

// The dynamic analyzer is Debian's nmap with its NSE HTTP scripts, against the example apps
// running as real processes on a loopback port. A scan that reached nothing is failed, never
// completed (the seed's ZAP scans "completed" against connection-refused targets).

beforeAll(ensureTools, 300_000);
const apps: RunningApp[] = [];
afterAll(async () => {
  await Promise.all(apps.map((a) => a.stop()));
  await closePool();
});

async function app(name: string) {
  const a = await startExampleApp(name);
  apps.push(a);
  return a;
}

describe('dynamic analyzer (nmap NSE http scripts)', () => {
  it('finds the reflected search parameter and the missing security headers of the notes app', async () => {
    const notes = await app('qwen-coder-app1');
    const h = analyzerHarness();
    const out = await h.run({
      target: { model: 'qwen-coder', app: 'app1', sourceDir: 'examples/analysis/apps/qwen-coder-app1' },
      analyzer: 'dynamic',
      address: notes.address,
    });
    expect(out.reason).toBeUndefined();
    expect(out).toMatchObject({ analyzer: 'dynamic', status: 'completed' });
    const rows = await listFindings(pool(), { pipelineId: h.pipelineId });
    const byRule = new Map(rows.map((r) => [r.rule, r]));
    expect(byRule.get('reflected-unescaped-parameter')).toMatchObject({ location: '/search?q', severity: 'high' });
    expect(byRule.has('missing-security-header/content-security-policy')).toBe(true);
    expect(byRule.has('missing-security-header/x-content-type-options')).toBe(true);
    expect(byRule.get('header-discloses-software/x-powered-by')?.message).toContain('notes-app/1.0');
    // nmap's own XML report is in the workspace next to the normalised SARIF.
    expect(readFileSync(out.reportRef!.replace(/report\.sarif$/, 'nmap/nmap.xml'), 'utf8')).toContain(`portid="${notes.port}"`);
  });

  it('finds the calculator echoing its expression, and no header problems on the guestbook that sets them', async () => {
    const calc = await app('qwen-coder-app2');
    const guestbook = await app('llama-coder-app1');
    const h = analyzerHarness();
    await h.run({
      target: { model: 'qwen-coder', app: 'app2', sourceDir: 'examples/analysis/apps/qwen-coder-app2' },
      analyzer: 'dynamic',
      address: calc.address,
    });
    const clean = await h.run({
      target: { model: 'llama-coder', app: 'app1', sourceDir: 'examples/analysis/apps/llama-coder-app1' },
      analyzer: 'dynamic',
      address: guestbook.address,
    });
    const calcRules = (await listFindings(pool(), { pipelineId: h.pipelineId, app: 'app2' })).map((r) => `${r.rule} ${r.location}`);
    expect(calcRules).toContain('reflected-unescaped-parameter /calc?expr');
    expect(clean.status).toBe('completed');
    const cleanRules = (await listFindings(pool(), { pipelineId: h.pipelineId, app: 'app1' })).map((r) => r.rule);
    expect(cleanRules.filter((r) => r.startsWith('missing-security-header/') || r === 'reflected-unescaped-parameter')).toEqual([]);
  });

  it('a closed port is failed with "connection refused", never completed, and stores no findings', async () => {
    const h = analyzerHarness();
    const address = await closedAddress();
    const out = await h.run({
      target: { model: 'qwen-coder', app: 'app1', sourceDir: 'examples/analysis/apps/qwen-coder-app1' },
      analyzer: 'dynamic',
      address,
    });
    expect(out.status).toBe('failed');
    expect(out.reason).toMatch(/nothing scanned: 127\.0\.0\.1:\d+ is closed \(connection refused\)/);
    expect(out.findings).toBe(0);
    expect(await listFindings(pool(), { pipelineId: h.pipelineId })).toEqual([]);
    const [run] = await listAnalyzerRuns(pool(), h.pipelineId);
    expect(run).toMatchObject({ status: 'failed', reason: out.reason });
  });

  it('an app killed while it is being scanned is failed ("stopped answering"), not completed', async () => {
    const notes = await app('qwen-coder-app1');
    const h = analyzerHarness();
    // Kill the app as soon as nmap is running: the heartbeat says which phase the step is in.
    const killer = setInterval(() => {
      if (h.heartbeats.some((b) => (b as { phase?: string }).phase === 'nmap')) {
        clearInterval(killer);
        notes.child.kill('SIGKILL');
      }
    }, 5);
    const out = await h.run({
      target: { model: 'qwen-coder', app: 'app1', sourceDir: 'examples/analysis/apps/qwen-coder-app1' },
      analyzer: 'dynamic',
      address: notes.address,
    });
    clearInterval(killer);
    expect(out.status).toBe('failed');
    expect(out.reason).toMatch(/nothing scanned|stopped answering during the scan/);
  });

  it('requires an address, naming the field', async () => {
    const h = analyzerHarness();
    await expect(
      h.run({ target: { model: 'm', app: 'a', sourceDir: 'examples/analysis/apps/qwen-coder-app1' }, analyzer: 'dynamic' }),
    ).rejects.toMatchObject({
      type: 'InvalidAnalyzerInput',
      message: expect.stringContaining('input.address'),
    });
  });
});
