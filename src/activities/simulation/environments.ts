import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { cp, mkdir, readFile, readdir, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { EnvironmentReport, EnvironmentSpec } from '../../shared/simulation/schemas.js';
import { durationToMs } from '../../shared/simulation/sweep-plan.js';
import { withFileLock } from './file-lock.js';
import { inheritedEnv } from '../step/env.js';
import { LineSplitter, Tail } from '../step/lines.js';
import { spawnGroup, stopGroup } from '../step/process-group.js';

// The environment cache (seed 001: a broken venv was reused because nothing checked it).
//
// An entry is keyed by (bundle content hash, runtime version, lockfile hash); it is published
// atomically (built in a temp dir, renamed into place), carries a manifest of every file's hash,
// and is checked against that manifest and a probe command before every reuse. A mismatch or a
// failed probe means the entry is moved aside and rebuilt; it is never used. Preparation happens
// under a per-key file lock, so concurrent replicates on one machine build it once.

/** Runs a short environment command (runtime version, setup, probe) in a given directory. */
export type EnvCommandRunner = (
  cmd: { command: string; args: string[] },
  opts: { cwd: string; timeoutMs: number; env?: Record<string, string>; signal?: AbortSignal },
) => Promise<{ exitCode: number | null; signal: string | null; stdout: string; stderrTail: string; durationMs: number }>;

/**
 * The default runner: the foundation's process groups (watchdog, parent-death signal, group kill
 * on timeout or abort), in the environment's own directory rather than a step workspace, with
 * stdout kept because the runtime's version is printed there.
 */
export const groupCommandRunner: EnvCommandRunner = async (cmd, opts) => {
  const started = Date.now();
  const group = await spawnGroup(cmd.command, cmd.args, { cwd: opts.cwd, env: { ...inheritedEnv(), ...opts.env } });
  let stdout = '';
  const stderr = new Tail(40);
  const errLines = new LineSplitter((l) => stderr.push(l));
  group.stdout.on('data', (c: Buffer) => (stdout = (stdout + c.toString()).slice(-10_000)));
  group.stderr.on('data', (c: Buffer) => errLines.push(c));
  let stopping: Promise<boolean> | undefined;
  const stop = () => (stopping ??= stopGroup(group.pgid, 2000));
  const timer = setTimeout(() => {
    stderr.push(`[shepherd] timed out after ${opts.timeoutMs} ms; process group killed`);
    void stop();
  }, opts.timeoutMs);
  const onAbort = () => void stop();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const { exitCode, signal } = await group.exited;
    if (stopping) await stopping;
    // The watchdog shares the program's stdout/stderr; releasing it ends the group and the streams.
    group.release();
    await group.settled;
    errLines.end();
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    return { exitCode, signal, stdout, stderrTail: stderr.toArray().join('\n'), durationMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
};

export interface EnvironmentCacheOptions {
  /** Root of the cache on this machine, e.g. <data>/envs. */
  root: string;
  /** Bundle paths in the spec resolve inside this directory. */
  projectDir: string;
  run: EnvCommandRunner;
  signal?: AbortSignal;
  /** Called while long steps (hashing, setup) make progress, so an activity can heartbeat. */
  heartbeat?: (detail: string) => void;
}

interface Manifest {
  version: 1;
  key: string;
  parts: EnvironmentReport['parts'];
  preparedAt: string;
  files: Record<string, { size: number; sha256: string }>;
  links: Record<string, string>;
}

const MANIFEST = 'manifest.json';
const ENV_DIR = 'env';
// Never part of a bundle's identity: installed dependencies and tool caches.
const BUNDLE_EXCLUDES = new Set(['node_modules', '.git', '.venv', 'venv', '__pycache__', '.shepherd']);
const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock', 'uv.lock', 'poetry.lock', 'requirements.txt'];

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every regular file and symlink under `dir`, as sorted relative posix paths. */
async function walk(dir: string, exclude: Set<string>): Promise<{ files: string[]; links: string[] }> {
  const files: string[] = [];
  const links: string[] = [];
  const visit = async (rel: string) => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      if (exclude.has(e.name)) continue;
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) links.push(child);
      else if (e.isDirectory()) await visit(child);
      else if (e.isFile()) files.push(child);
    }
  };
  await visit('');
  return { files: files.sort(), links: links.sort() };
}

async function treeManifest(dir: string, exclude: Set<string>, heartbeat?: (d: string) => void) {
  const { files, links } = await walk(dir, exclude);
  const out: Pick<Manifest, 'files' | 'links'> = { files: {}, links: {} };
  let n = 0;
  for (const rel of files) {
    const abs = path.join(dir, rel);
    out.files[rel] = { size: (await stat(abs)).size, sha256: await sha256File(abs) };
    if (++n % 500 === 0) heartbeat?.(`hashed ${n}/${files.length} files`);
  }
  for (const rel of links) out.links[rel] = await readlink(path.join(dir, rel));
  return out;
}

function digestOf(tree: Pick<Manifest, 'files' | 'links'>): string {
  const hash = createHash('sha256');
  for (const [rel, f] of Object.entries(tree.files)) hash.update(`f\0${rel}\0${f.sha256}\n`);
  for (const [rel, target] of Object.entries(tree.links)) hash.update(`l\0${rel}\0${target}\n`);
  return hash.digest('hex');
}

function fail(message: string, type: string, retryable = false): never {
  throw retryable ? ApplicationFailure.retryable(message, type) : ApplicationFailure.nonRetryable(message, type);
}

async function resolveBundle(spec: EnvironmentSpec, projectDir: string): Promise<string> {
  const root = path.resolve(projectDir);
  const abs = path.resolve(root, spec.bundle);
  if (!abs.startsWith(root + path.sep)) fail(`environment.bundle: ${spec.bundle} is outside the project directory`, 'InvalidInput');
  const st = await stat(abs).catch(() => null);
  if (!st?.isDirectory()) fail(`environment.bundle: ${spec.bundle} is not a directory under ${root}`, 'InvalidInput');
  return abs;
}

export interface EnvironmentKey {
  key: string;
  parts: EnvironmentReport['parts'];
  bundleDir: string;
}

/** The cache key: what must be identical for a prepared environment to be interchangeable. */
export async function computeEnvironmentKey(spec: EnvironmentSpec, opts: EnvironmentCacheOptions): Promise<EnvironmentKey> {
  const bundleDir = await resolveBundle(spec, opts.projectDir);
  const rt = await opts.run(spec.runtime, { cwd: bundleDir, timeoutMs: durationToMs(spec.probeTimeout), signal: opts.signal });
  if (rt.exitCode !== 0) {
    fail(
      `environment.runtime: ${[spec.runtime.command, ...spec.runtime.args].join(' ')} failed (exit ${rt.exitCode ?? rt.signal}): ${rt.stderrTail}`,
      'EnvironmentRuntimeMissing',
    );
  }
  const runtime = rt.stdout.trim().split('\n')[0]?.trim() || rt.stderrTail.trim().split('\n')[0]?.trim() || 'unknown';

  let lockfile: string | null = null;
  const candidates = spec.lockfile ? [spec.lockfile] : LOCKFILES;
  for (const rel of candidates) {
    const abs = path.join(bundleDir, rel);
    if ((await stat(abs).catch(() => null))?.isFile()) {
      lockfile = `${rel}:${await sha256File(abs)}`;
      break;
    }
  }
  if (spec.lockfile && !lockfile) fail(`environment.lockfile: ${spec.lockfile} does not exist in the bundle`, 'InvalidInput');

  const bundle = digestOf(await treeManifest(bundleDir, BUNDLE_EXCLUDES, opts.heartbeat));
  const key = createHash('sha256')
    .update(JSON.stringify({ bundle, runtime, lockfile, setup: spec.setup ?? null }))
    .digest('hex')
    .slice(0, 32);
  return { key, parts: { bundle, runtime, lockfile }, bundleDir };
}

/** Why an existing entry must not be used, or null when its files match the manifest. */
async function integrityProblem(entryDir: string, key: string): Promise<string | null> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(path.join(entryDir, MANIFEST), 'utf8')) as Manifest;
  } catch (err) {
    return `manifest unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): incomplete or corrupted entry`;
  }
  if (manifest.version !== 1 || manifest.key !== key || typeof manifest.files !== 'object') return 'manifest does not describe this key';
  const envDir = path.join(entryDir, ENV_DIR);
  for (const [rel, want] of Object.entries(manifest.files)) {
    const abs = path.join(envDir, rel);
    const st = await stat(abs).catch(() => null);
    if (!st?.isFile()) return `file ${rel} is missing`;
    if (st.size !== want.size) return `file ${rel} changed size (${want.size} → ${st.size} bytes)`;
    if ((await sha256File(abs)) !== want.sha256) return `file ${rel} changed content`;
  }
  for (const [rel, target] of Object.entries(manifest.links ?? {})) {
    const now = await readlink(path.join(envDir, rel)).catch(() => null);
    if (now !== target) return `link ${rel} changed`;
  }
  return null;
}

async function probe(spec: EnvironmentSpec, envDir: string, opts: EnvironmentCacheOptions): Promise<EnvironmentReport['probe']> {
  const r = await opts.run(spec.probe, {
    cwd: envDir,
    timeoutMs: durationToMs(spec.probeTimeout),
    env: { SHEPHERD_ENV_DIR: envDir },
    signal: opts.signal,
  });
  return { ok: r.exitCode === 0, exitCode: r.exitCode, durationMs: r.durationMs, stderrTail: r.stderrTail.slice(-2000) };
}

function unique(): string {
  return `${process.pid}.${randomBytes(4).toString('hex')}`;
}

async function build(spec: EnvironmentSpec, k: EnvironmentKey, opts: EnvironmentCacheOptions): Promise<string> {
  const tmpRoot = path.join(opts.root, '.tmp');
  // Under the key's lock, any temp dir for this key is a dead builder's leftover.
  const leftovers = (await readdir(tmpRoot).catch(() => [] as string[])).filter((n) => n.startsWith(`${k.key}.`));
  await Promise.all(leftovers.map((n) => rm(path.join(tmpRoot, n), { recursive: true, force: true })));

  const staging = path.join(tmpRoot, `${k.key}.${unique()}`);
  const envDir = path.join(staging, ENV_DIR);
  await mkdir(staging, { recursive: true });
  await cp(k.bundleDir, envDir, {
    recursive: true,
    verbatimSymlinks: true,
    filter: (src) => !BUNDLE_EXCLUDES.has(path.basename(src)) || src === k.bundleDir,
  });
  if (spec.setup) {
    opts.heartbeat?.(`setup: ${spec.setup.command}`);
    const r = await opts.run(spec.setup, {
      cwd: envDir,
      timeoutMs: durationToMs(spec.setupTimeout),
      env: { SHEPHERD_ENV_DIR: envDir },
      signal: opts.signal,
    });
    if (r.exitCode !== 0) {
      await rm(staging, { recursive: true, force: true });
      // Setup can fail for passing reasons (registry down); the activity's retry policy decides.
      fail(
        `environment setup ${[spec.setup.command, ...spec.setup.args].join(' ')} failed (exit ${r.exitCode ?? r.signal}): ${r.stderrTail}`,
        'EnvironmentSetupFailed',
        true,
      );
    }
  }
  const tree = await treeManifest(envDir, new Set(), opts.heartbeat);
  const manifest: Manifest = { version: 1, key: k.key, parts: k.parts, preparedAt: new Date().toISOString(), ...tree };
  await writeFile(path.join(staging, MANIFEST), JSON.stringify(manifest));
  const entryDir = path.join(opts.root, k.key);
  await rename(staging, entryDir);
  return entryDir;
}

/** Moves a bad entry out of the way at once (rename is atomic), then deletes it. */
async function discard(entryDir: string, root: string): Promise<void> {
  const trash = path.join(root, '.trash', `${path.basename(entryDir)}.${unique()}`);
  await mkdir(path.dirname(trash), { recursive: true });
  await rename(entryDir, trash);
  await rm(trash, { recursive: true, force: true });
}

/**
 * Returns a validated environment for `spec`, building or rebuilding it if needed. Safe to call
 * from many processes at once: the per-key file lock makes exactly one of them build.
 */
export async function prepareEnvironment(
  spec: EnvironmentSpec,
  opts: EnvironmentCacheOptions,
  known?: EnvironmentKey,
): Promise<EnvironmentReport> {
  const k = known ?? (await computeEnvironmentKey(spec, opts));
  const entryDir = path.join(opts.root, k.key);
  const envDir = path.join(entryDir, ENV_DIR);
  return withFileLock(
    path.join(opts.root, '.locks', `${k.key}.lock`),
    async () => {
      let action: EnvironmentReport['action'] = 'built';
      let rebuildReason: string | undefined;
      if (await stat(entryDir).catch(() => null)) {
        rebuildReason = (await integrityProblem(entryDir, k.key)) ?? undefined;
        if (!rebuildReason) {
          const p = await probe(spec, envDir, opts);
          if (p.ok) return { key: k.key, parts: k.parts, dir: envDir, action: 'reused', probe: p };
          rebuildReason = `probe failed (exit ${p.exitCode}): ${p.stderrTail.trim().split('\n').slice(-3).join(' | ') || 'no stderr'}`;
        }
        action = 'rebuilt';
        await discard(entryDir, opts.root);
      }
      await build(spec, k, opts);
      const p = await probe(spec, envDir, opts);
      if (!p.ok) {
        await discard(entryDir, opts.root);
        fail(
          `environment probe ${[spec.probe.command, ...spec.probe.args].join(' ')} failed in a freshly built environment (exit ${p.exitCode}): ${p.stderrTail.trim() || 'no stderr'}`,
          'EnvironmentProbeFailed',
        );
      }
      return { key: k.key, parts: k.parts, dir: envDir, action, rebuildReason, probe: p };
    },
    { signal: opts.signal },
  );
}

/**
 * Per-process memo in front of prepareEnvironment: a job validates an entry once per worker
 * process (concurrent callers share one preparation), and later replicates of that job on this
 * worker reuse it while its manifest is still in place.
 */
export function createEnvironmentCache(base: Omit<EnvironmentCacheOptions, 'signal' | 'heartbeat'>) {
  const memo = new Map<string, Promise<EnvironmentReport>>();
  return {
    root: base.root,
    async ensure(
      spec: EnvironmentSpec,
      scope: { jobId: string; expectedKey?: string },
      hooks: Pick<EnvironmentCacheOptions, 'signal' | 'heartbeat'> = {},
    ): Promise<EnvironmentReport> {
      const memoKey = `${scope.jobId}\0${scope.expectedKey ?? ''}`;
      const hit = memo.get(memoKey);
      if (hit) {
        const report = await hit.catch(() => null);
        if (report && (await stat(path.join(path.dirname(report.dir), MANIFEST)).catch(() => null))) return report;
        memo.delete(memoKey);
      }
      const pending = (async () => {
        const opts = { ...base, ...hooks };
        const k = await computeEnvironmentKey(spec, opts);
        if (scope.expectedKey && k.key !== scope.expectedKey) {
          fail(
            `environment changed during job ${scope.jobId}: key is now ${k.key}, the job prepared ${scope.expectedKey} (bundle, runtime or lockfile differ on this worker)`,
            'EnvironmentChanged',
          );
        }
        return prepareEnvironment(spec, opts, k);
      })();
      memo.set(memoKey, pending);
      if (memo.size > 100) memo.delete(memo.keys().next().value!);
      try {
        return await pending;
      } catch (err) {
        memo.delete(memoKey);
        throw err;
      }
    },
  };
}
