import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from './support/procs.js';

// The published package as another project sees it: `npm run build`, `npm pack`, the tarball
// installed (from the npm cache where it can, the registry otherwise) into a scratch project outside the repository, a worker
// started from the installed build (bundling its workflows from dist/), and a pipeline started
// from plain Node — no tsx, no TypeScript sources — through `shepherd/client`.

const REPO = process.cwd();
const TSC = path.join(REPO, 'node_modules/typescript/bin/tsc');
let scratch: string;
let packed: string[];
let worker: ResultPromise | undefined;
let workerOutput = '';

/**
 * A consumer project depending on the tarball, with a lockfile pinning Shepherd's runtime
 * dependencies to the versions (and integrity hashes) the repository's lockfile resolved: npm then
 * installs them from its content cache without asking the registry for package metadata.
 */
function writeConsumerProject(dir: string, tgz: string): void {
  const own = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(path.join(REPO, 'package-lock.json'), 'utf8'));
  const runtime = Object.fromEntries(
    Object.entries(lock.packages as Record<string, { dev?: boolean }>).filter(([k, v]) => k.startsWith('node_modules/') && !v.dev),
  );
  const spec = `file:${tgz}`;
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { shepherd: spec } }, null, 2),
  );
  const packages = {
    '': { name: 'consumer', dependencies: { shepherd: spec } },
    'node_modules/shepherd': { version: own.version, resolved: spec, dependencies: own.dependencies, bin: own.bin, engines: own.engines },
    ...runtime,
  };
  writeFileSync(
    path.join(dir, 'package-lock.json'),
    JSON.stringify({ name: 'consumer', lockfileVersion: 3, requires: true, packages }, null, 2),
  );
}

beforeAll(async () => {
  await execa('npm', ['run', 'build'], { cwd: REPO });
  scratch = mkdtempSync(path.join(os.tmpdir(), 'shepherd-consumer-'));
  const { stdout } = await execa('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: REPO });
  const info = JSON.parse(stdout)[0] as { filename: string; files: { path: string }[] };

  packed = info.files.map((f) => f.path);
  writeConsumerProject(scratch, info.filename);
  // --prefer-offline, not --offline: a lockfile written without `resolved` URLs (this machine's
  // npmrc omits them) makes npm look up metadata it may only hold in another format.
  await execa('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: scratch });
}, 900_000);

afterAll(async () => {
  worker?.kill('SIGTERM');
  await worker?.catch(() => undefined);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the shepherd package', { timeout: 600_000 }, () => {
  it('ships only built JavaScript (the step spawner included), the compiled spawner source, declarations, migrations and the README', () => {
    expect(packed).toContain('dist/client/index.js');
    expect(packed).toContain('dist/client/index.d.ts');
    expect(packed).toContain('dist/cli/main.js');
    expect(packed).toContain('dist/workflows/index.js');
    expect(packed).toContain('dist/db/migrations/001_foundation.sql');
    expect(packed).toContain('dist/activities/step/spawner/helper.mjs');
    expect(packed).toContain('dist/activities/step/spawner/shepherd-spawn.c');
    expect(packed).toContain('package.json');
    const unexpected = packed.filter(
      (f) => !/^(dist\/.*\.(m?js|d\.ts|sql|css)|dist\/activities\/step\/spawner\/shepherd-spawn\.c|package\.json|README\.md)$/.test(f),
    );
    expect(unexpected).toEqual([]);
  });

  it('type-checks a consumer against the declarations: typed inputs are enforced', async () => {
    const good = `import { connect, experiments, simulation, training, conversations, InvalidInputError, type ExperimentBatchResult } from 'shepherd/client';
const { client, close } = await connect({ address: 'localhost:1' });
const h = await experiments.start(client, { batchId: 'b', experiments: [{ name: 'e', command: 'node' }] });
const r: ExperimentBatchResult = await h.result();
const q = await training.start(client, { queue: 'q' });
await q.pause('disk');
await simulation.get(client, 'job').progress();
await conversations.get(client, 'c').retryFailed(['k']);
console.log(r.status, InvalidInputError.name);
await close();
`;
    const bad = `import { connect, experiments } from 'shepherd/client';
const { client } = await connect();
await experiments.start(client, { batchId: 42, experiments: [] });
`;
    writeFileSync(path.join(scratch, 'good.ts'), good);
    writeFileSync(path.join(scratch, 'bad.ts'), bad);
    const args = ['--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022'];
    await execa(process.execPath, [TSC, ...args, 'good.ts'], { cwd: scratch });
    const failed = await execa(process.execPath, [TSC, ...args, 'bad.ts'], { cwd: scratch, reject: false });
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stdout).toMatch(/bad\.ts.*number.*string/s);
  });

  it('a worker from the installed build runs a batch started from plain Node through shepherd/client', async () => {
    const taskQueue = `pkg-${randomUUID().slice(0, 8)}`;
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: 'default',
      DATABASE_URL: inject('databaseUrl'),
      SHEPHERD_TASK_QUEUE: taskQueue,
      SHEPHERD_DATA_DIR: path.join(scratch, 'data'),
      SHEPHERD_LOG_LEVEL: 'info',
    };
    // No --import tsx: the installed build is plain JavaScript, and bundles dist/workflows itself.
    worker = execa(process.execPath, [path.join(scratch, 'node_modules/shepherd/dist/workers/main.js')], {
      cwd: scratch,
      env,
      reject: false,
      buffer: false,
    });
    worker.stdout!.on('data', (c: Buffer) => (workerOutput += c));
    worker.stderr!.on('data', (c: Buffer) => (workerOutput += c));
    await waitFor(() => workerOutput.includes('worker started') || worker!.exitCode !== null, 'worker from the build polling', 240_000);
    expect(workerOutput, workerOutput.slice(-2000)).toContain('worker started');

    const batchId = `pkg-${randomUUID().slice(0, 8)}`;
    const program = `require('node:fs').writeFileSync(process.env.SHEPHERD_RESULT_FILE, JSON.stringify({ accuracy: 0.75 }))`;
    writeFileSync(
      path.join(scratch, 'consumer.mjs'),
      `import { connect, experiments, InvalidInputError, NotFoundError } from 'shepherd/client';
const { client, close } = await connect();
const out = {};
try { await experiments.start(client, { batchId: 'x', experiments: [] }); } catch (e) { out.invalid = { isClass: e instanceof InvalidInputError, message: e.message }; }
try { await experiments.get(client, 'no-such-batch-${batchId}').describe(); } catch (e) { out.notFound = e instanceof NotFoundError; }
const handle = await experiments.start(client, { batchId: '${batchId}', experiments: [{ name: 'one', command: process.execPath, args: ['-e', ${JSON.stringify(program)}] }] }, { taskQueue: '${taskQueue}' });
out.result = await handle.result();
out.described = await handle.describe();
await close();
console.log(JSON.stringify(out));
`,
    );
    const run = await execa(process.execPath, ['consumer.mjs'], { cwd: scratch, env: { TEMPORAL_ADDRESS: inject('temporalAddress') } });
    const out = JSON.parse(run.stdout);
    expect(out.invalid.isClass).toBe(true);
    expect(out.invalid.message).toMatch(/experiments/);
    expect(out.notFound).toBe(true);
    expect(out.result).toMatchObject({ batchId, status: 'completed', succeeded: 1, failed: 0 });
    expect(out.result.experiments[0].metrics).toEqual({ accuracy: 0.75 });
    expect(out.described).toMatchObject({ status: 'COMPLETED', stage: 'completed' });
  });

  it('installs the CLI as built JavaScript', async () => {
    const help = await execa(path.join(scratch, 'node_modules/.bin/shepherd'), ['--help'], { cwd: scratch, reject: false });
    expect(help.stdout).toContain('Usage: shepherd');
  });
});
