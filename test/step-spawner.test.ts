import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeStep } from '../src/activities/step/execute-step.js';
import { stepSpawner } from '../src/activities/step/spawner/client.js';
import { stepLauncher } from '../src/activities/step/launcher/launcher.js';

/** Whether a 64-bit little-endian ELF file names a program interpreter (PT_INTERP): a dynamic executable. */
function hasInterpreter(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const [size, count] = [elf.readUInt16LE(0x36), elf.readUInt16LE(0x38)];
  return Array.from({ length: count }, (_, i) => elf.readUInt32LE(phoff + i * size)).includes(3);
}
import { readStat } from '../src/activities/step/proc-stats.js';
import { parseCommandSpec } from '../src/shared/step/command-spec.js';
import { processesWithEnv, waitFor } from './support/procs.js';

// The step spawner (src/activities/step/spawner/): steps are forked by a small helper process,
// which hands the program's pipes to the worker. What must not change because of it: output,
// exit status, and that no process outlives the step or the processes that run it.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TREE = fileURLToPath(new URL('./fixtures/programs/tree.sh', import.meta.url));
const MARK = 'SHEPHERD_TEST_MARKER';
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'shepherd-spawner-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function workspace(): string {
  const ws = path.join(tmp, randomUUID().slice(0, 8));
  mkdirSync(ws);
  return ws;
}

describe('the step spawner', () => {
  it('loses no output written the instant a program starts, across many concurrent steps', async () => {
    // Programs that print and exit at once race the hand-over of their pipes to the worker.
    const spec = (i: number) =>
      parseCommandSpec({ command: '/bin/sh', args: ['-c', `printf 'first-${i}\\nlast-${i}'; printf 'err-${i}' >&2; exit ${i % 3}`] });
    const runs = Array.from({ length: 120 }, async (_, i) => {
      const ws = workspace();
      const out = await executeStep(spec(i), { workspace: ws });
      return { i, ws, out };
    });
    for (const { i, ws, out } of await Promise.all(runs)) {
      expect(out.exitCode).toBe(i % 3);
      expect(out.stdoutTail).toEqual([`first-${i}`, `last-${i}`]);
      expect(out.stderrTail).toEqual([`err-${i}`]);
      expect(readFileSync(path.join(ws, 'stdout.log'), 'utf8')).toBe(`first-${i}\nlast-${i}`);
    }
  });

  it('uses the compiled launcher where there is a C compiler, and it refuses to run outside a session of its own', async () => {
    const hasCc = (await execa('sh', ['-c', 'command -v cc'], { reject: false })).exitCode === 0;
    const launcher = await stepLauncher();
    expect(launcher.kind).toBe(hasCc ? 'compiled' : 'sh');
    if (launcher.kind !== 'compiled') return;
    const [binary, args] = launcher.argv('shepherd-step-watchdog', '/bin/true', []);
    // Started like any child (same session and group as this test), its watchdog would kill
    // this process's group on the first read of a missing fd 3: it must refuse instead.
    const r = await execa(binary, args, { reject: false });
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain('must be started as the leader of a new session');
    // Statically linked where the compiler has a static C library: no program interpreter to load.
    const staticLibc = path.isAbsolute((await execa('cc', ['-print-file-name=libc.a'])).stdout.trim());
    expect(hasInterpreter(readFileSync(binary))).toBe(!staticLibc);
  });

  it('reports a program killed by a signal, with the signal', async () => {
    const out = await executeStep(parseCommandSpec({ command: '/bin/sh', args: ['-c', 'kill -USR1 $$'] }), { workspace: workspace() });
    expect(out).toMatchObject({ exitCode: null, signal: 'SIGUSR1' });
  });

  it('a helper that dies takes its programs with it; the step reports SIGKILL and the next step gets a new helper', async () => {
    const marker = randomUUID();
    const ws = workspace();
    const run = executeStep(parseCommandSpec({ command: '/bin/sh', args: [TREE], env: { [MARK]: marker }, graceMs: 300 }), {
      workspace: ws,
    });
    await waitFor(() => existsSync(path.join(ws, 'ready')), 'tree ready');
    expect(processesWithEnv(MARK, marker)).toHaveLength(5);
    const helper = stepSpawner().pid!;
    process.kill(helper, 'SIGKILL');
    const out = await run;
    expect(out).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    expect(processesWithEnv(MARK, marker)).toEqual([]);

    const next = await executeStep(parseCommandSpec({ command: '/bin/sh', args: ['-c', 'echo again'] }), { workspace: workspace() });
    expect(next).toMatchObject({ exitCode: 0, stdoutTail: ['again'] });
    expect(stepSpawner().pid).not.toBe(helper);
  }, 30_000);

  it('keeps no process alive once its worker is done: the worker exits by itself and the helper with it', async () => {
    const script = path.join(tmp, 'one-step.mts');
    writeFileSync(
      script,
      `import { executeStep } from ${JSON.stringify(path.join(ROOT, 'src/activities/step/execute-step.ts'))};
import { stepSpawner } from ${JSON.stringify(path.join(ROOT, 'src/activities/step/spawner/client.ts'))};
const out = await executeStep({ command: '/bin/echo', args: ['done'] }, { workspace: process.argv[2] });
process.stdout.write(JSON.stringify({ tail: out.stdoutTail, helper: stepSpawner().pid }));`,
    );
    const { stdout } = await execa(process.execPath, ['--import', 'tsx', script, workspace()], { cwd: ROOT, timeout: 20_000 });
    const { tail, helper } = JSON.parse(stdout) as { tail: string[]; helper: number };
    expect(tail).toEqual(['done']);
    await waitFor(() => {
      const st = readStat(helper);
      return st === undefined || st.state === 'Z';
    }, 'the helper gone after its worker exited');
  }, 30_000);
});
