import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { environmentSpecSchema, type EnvironmentReport } from '../src/shared/simulation/schemas.js';
import {
  computeEnvironmentKey,
  createEnvironmentCache,
  groupCommandRunner,
  prepareEnvironment,
  type EnvironmentCacheOptions,
} from '../src/activities/simulation/environments.js';
import { acquireFileLock } from '../src/activities/simulation/file-lock.js';
import { rejectionOf } from './support/failures.js';

type Failure = Error & { type?: string; nonRetryable?: boolean };
const failureOf = (p: Promise<unknown>) => rejectionOf<Failure>(p);

// Real files, real processes, real concurrency: several node processes race for one key.

const scratch = mkdtempSync(path.join(os.tmpdir(), 'shepherd-envs-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let project: string;
let root: string;
let counter: string;
let n = 0;

// The delay comes from a file outside the bundle, so a slow and a fast preparation share one key.
const SETUP_SCRIPT = `const fs = require('fs'); fs.appendFileSync(process.argv[1], process.pid + '\\n'); fs.writeFileSync('installed.txt', 'deps'); setTimeout(() => {}, fs.existsSync(process.argv[2]) ? Number(fs.readFileSync(process.argv[2], 'utf8')) : 0);`;
const PROBE_SCRIPT = `const fs = require('fs'); if (fs.existsSync(process.argv[1])) { console.error('probe: poisoned by ' + process.argv[1]); process.exit(3); } require('./model.js'); fs.accessSync('installed.txt');`;

function spec(extra: Record<string, unknown> = {}) {
  return environmentSpecSchema.parse({
    bundle: 'bundle',
    setup: { command: process.execPath, args: ['-e', SETUP_SCRIPT, counter, path.join(project, 'setup-delay-ms')] },
    probe: { command: process.execPath, args: ['-e', PROBE_SCRIPT, path.join(project, 'poison')] },
    runtime: { command: process.execPath, args: ['--version'] },
    ...extra,
  });
}

function opts(): EnvironmentCacheOptions {
  return { root, projectDir: project, run: groupCommandRunner };
}

const setupRuns = () => (existsSync(counter) ? readFileSync(counter, 'utf8').trim().split('\n').filter(Boolean).length : 0);

beforeEach(() => {
  project = path.join(scratch, `p${++n}`);
  root = path.join(project, 'envs');
  counter = path.join(project, 'setup-runs.txt');
  mkdirSync(path.join(project, 'bundle', 'node_modules', 'left-over'), { recursive: true });
  writeFileSync(path.join(project, 'bundle', 'model.js'), 'module.exports = { ok: true };\n');
  writeFileSync(path.join(project, 'bundle', 'package-lock.json'), '{"lockfileVersion":3}\n');
  writeFileSync(path.join(project, 'bundle', 'node_modules', 'left-over', 'x.js'), 'ignored');
});

describe('environment cache key', () => {
  it('is made of the bundle content, the runtime version and the lockfile, and ignores installed deps', async () => {
    const a = await computeEnvironmentKey(spec(), opts());
    expect(a.parts.runtime).toBe(process.version);
    expect(a.parts.lockfile).toMatch(/^package-lock\.json:[0-9a-f]{64}$/);
    writeFileSync(path.join(project, 'bundle', 'node_modules', 'left-over', 'x.js'), 'still ignored');
    expect((await computeEnvironmentKey(spec(), opts())).key).toBe(a.key);

    writeFileSync(path.join(project, 'bundle', 'package-lock.json'), '{"lockfileVersion":3,"x":1}\n');
    const b = await computeEnvironmentKey(spec(), opts());
    expect(b.parts.lockfile).not.toBe(a.parts.lockfile);
    expect(b.key).not.toBe(a.key);

    writeFileSync(path.join(project, 'bundle', 'model.js'), 'module.exports = { ok: 2 };\n');
    const c = await computeEnvironmentKey(spec(), opts());
    expect(c.parts.bundle).not.toBe(b.parts.bundle);
    expect(c.key).not.toBe(b.key);

    const d = await computeEnvironmentKey(spec({ runtime: { command: process.execPath, args: ['-p', '"fake-runtime-9"'] } }), opts());
    expect(d.parts.runtime).toBe('fake-runtime-9');
    expect(d.key).not.toBe(c.key);
  });

  it('rejects a bundle outside the project and a missing runtime by name', async () => {
    await expect(computeEnvironmentKey(spec({ bundle: 'nope' }), opts())).rejects.toThrow(/environment\.bundle: nope is not a directory/);
    await expect(
      computeEnvironmentKey(spec({ runtime: { command: process.execPath, args: ['-e', 'process.exit(4)'] } }), opts()),
    ).rejects.toThrow(/environment\.runtime: .* failed \(exit 4\)/);
  });
});

describe('environment preparation', () => {
  it('builds once, then reuses after a passing probe', async () => {
    const first = await prepareEnvironment(spec(), opts());
    expect(first.action).toBe('built');
    expect(first.probe.ok).toBe(true);
    expect(readFileSync(path.join(first.dir, 'installed.txt'), 'utf8')).toBe('deps');
    expect(existsSync(path.join(first.dir, 'node_modules'))).toBe(false);
    const second = await prepareEnvironment(spec(), opts());
    expect(second).toMatchObject({ action: 'reused', key: first.key, dir: first.dir, probe: { ok: true, exitCode: 0 } });
    expect(setupRuns()).toBe(1);
  });

  it('detects a corrupted file and rebuilds instead of reusing', async () => {
    const first = await prepareEnvironment(spec(), opts());
    writeFileSync(path.join(first.dir, 'model.js'), 'module.exports = { ok: 1234 };\n'); // same size, other content
    const again = await prepareEnvironment(spec(), opts());
    expect(again.action).toBe('rebuilt');
    expect(again.rebuildReason).toBe('file model.js changed content');
    expect(readFileSync(path.join(again.dir, 'model.js'), 'utf8')).toBe('module.exports = { ok: true };\n');
    expect(setupRuns()).toBe(2);

    rmSync(path.join(again.dir, 'installed.txt'));
    expect((await prepareEnvironment(spec(), opts())).rebuildReason).toBe('file installed.txt is missing');

    writeFileSync(path.join(path.dirname(first.dir), 'manifest.json'), '{"truncated');
    const afterManifest = await prepareEnvironment(spec(), opts());
    expect(afterManifest.action).toBe('rebuilt');
    expect(afterManifest.rebuildReason).toMatch(/manifest unreadable/);
    expect(setupRuns()).toBe(4);
    expect((await prepareEnvironment(spec(), opts())).action).toBe('reused');
  });

  it('rebuilds when the probe fails on an existing entry, and fails clearly when a fresh build fails it too', async () => {
    await prepareEnvironment(spec(), opts());
    writeFileSync(path.join(project, 'poison'), 'x');
    const err = await failureOf(prepareEnvironment(spec(), opts()));
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/probe .* failed in a freshly built environment \(exit 3\): probe: poisoned by/);
    expect(err.type).toBe('EnvironmentProbeFailed');
    expect(err.nonRetryable).toBe(true);
    expect(setupRuns()).toBe(2); // the stale entry was rebuilt once, not reused
    expect(readdirSync(root).filter((d) => !d.startsWith('.'))).toEqual([]); // nothing bad left to reuse

    rmSync(path.join(project, 'poison'));
    const healed = await prepareEnvironment(spec(), opts());
    expect(healed.action).toBe('built');
  });

  it('publishes nothing when setup fails, and says why', async () => {
    const bad = spec({
      setup: { command: process.execPath, args: ['-e', 'console.error("npm ERR! network unreachable"); process.exit(1)'] },
    });
    const err = await failureOf(prepareEnvironment(bad, opts()));
    expect(err.message).toMatch(/environment setup .* failed \(exit 1\): npm ERR! network unreachable/);
    expect(err.type).toBe('EnvironmentSetupFailed');
    expect(err.nonRetryable).toBe(false);
    expect(readdirSync(root).filter((d) => !d.startsWith('.'))).toEqual([]);
  });

  it('prepares once per key when several processes ask at the same time', async () => {
    const child = path.join(project, 'prepare-child.mts');
    writeFileSync(
      child,
      `import { prepareEnvironment, groupCommandRunner } from ${JSON.stringify(path.resolve('src/activities/simulation/environments.ts'))};
const spec = JSON.parse(process.argv[2]);
const report = await prepareEnvironment(spec, { root: process.argv[3], projectDir: process.argv[4], run: groupCommandRunner });
process.stdout.write(JSON.stringify(report));`,
    );
    writeFileSync(path.join(project, 'setup-delay-ms'), '400');
    const s = spec();
    const racers = Array.from({ length: 4 }, () => execa(process.execPath, ['--import', 'tsx', child, JSON.stringify(s), root, project]));
    const reports = (await Promise.all(racers)).map((r) => JSON.parse(r.stdout) as EnvironmentReport);
    expect(new Set(reports.map((r) => r.key)).size).toBe(1);
    expect(reports.filter((r) => r.action === 'built')).toHaveLength(1);
    expect(reports.filter((r) => r.action === 'reused')).toHaveLength(3);
    expect(setupRuns()).toBe(1);
  });

  it('survives a preparer killed mid-setup: the lock is released and the half-built entry is never used', async () => {
    const child = path.join(project, 'prepare-child.mts');
    writeFileSync(
      child,
      `import { prepareEnvironment, groupCommandRunner } from ${JSON.stringify(path.resolve('src/activities/simulation/environments.ts'))};
await prepareEnvironment(JSON.parse(process.argv[2]), { root: process.argv[3], projectDir: process.argv[4], run: groupCommandRunner });`,
    );
    writeFileSync(path.join(project, 'setup-delay-ms'), '60000');
    const doomed = execa(process.execPath, ['--import', 'tsx', child, JSON.stringify(spec()), root, project], { reject: false });
    for (let i = 0; i < 300 && setupRuns() === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(setupRuns()).toBe(1);
    doomed.kill('SIGKILL');
    await doomed;
    rmSync(path.join(project, 'setup-delay-ms'));

    const report = await prepareEnvironment(spec(), opts());
    expect(report.action).toBe('built');
    expect(setupRuns()).toBe(2);
    expect(readdirSync(path.join(root, '.tmp'))).toEqual([]);
  });

  it('shares one preparation between concurrent callers in a process and checks the expected key', async () => {
    const cache = createEnvironmentCache(opts());
    const [a, b] = await Promise.all([cache.ensure(spec(), { jobId: 'j1' }), cache.ensure(spec(), { jobId: 'j1' })]);
    expect(a).toBe(b);
    expect(setupRuns()).toBe(1);
    await expect(cache.ensure(spec(), { jobId: 'j2', expectedKey: 'not-the-key' })).rejects.toThrow(/environment changed during job j2/);
    const c = await cache.ensure(spec(), { jobId: 'j3', expectedKey: a.key });
    expect(c.action).toBe('reused');
  });
});

describe('file lock', () => {
  it('is exclusive across processes and released when its holder is SIGKILLed', async () => {
    const lockPath = path.join(project, 'x.lock');
    // flock's child inherits the locked descriptor, so the whole group must die to release it.
    const holder = execa('flock', ['--exclusive', lockPath, 'sleep', '60'], { reject: false, detached: true });
    await new Promise((r) => setTimeout(r, 200));
    const ac = new AbortController();
    const waiting = acquireFileLock(lockPath, { signal: ac.signal });
    let got = false;
    void waiting.then(
      () => (got = true),
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toBe(false);
    process.kill(-holder.pid!, 'SIGKILL');
    const lock = await waiting;
    await lock.release();
    await holder;
    const again = await acquireFileLock(lockPath);
    await again.release();
  });
});
