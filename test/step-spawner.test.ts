import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeStep } from '../src/activities/step/execute-step.js';
import { stepSpawner } from '../src/activities/step/spawner/client.js';
import { nativeSpawner } from '../src/activities/step/spawner/native.js';
import { WATCHDOG_TAG, spawnGroup, stopGroup } from '../src/activities/step/process-group.js';

/** Whether a 64-bit little-endian ELF file names a program interpreter (PT_INTERP): a dynamic executable. */
function hasInterpreter(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const [size, count] = [elf.readUInt16LE(0x36), elf.readUInt16LE(0x38)];
  return Array.from({ length: count }, (_, i) => elf.readUInt32LE(phoff + i * size)).includes(3);
}
import { parseStat, readStat } from '../src/activities/step/proc-stats.js';
import { parseCommandSpec } from '../src/shared/step/command-spec.js';
import { markedProcesses, waitFor } from './support/procs.js';

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

/** Live processes of a session (stat field 6), zombies excluded. */
const sessionMembers = (sid: number) =>
  readdirSync('/proc').filter((e) => {
    if (!/^\d+$/.test(e)) return false;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      const [state, , , session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return state !== 'Z' && Number(session) === sid;
    } catch {
      return false;
    }
  });

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

  it('uses the compiled spawner where there is a C compiler; it refuses to run without a worker channel', async () => {
    const hasCc = (await execa('sh', ['-c', 'command -v cc'], { reject: false })).exitCode === 0;
    const binary = await nativeSpawner();
    expect(binary !== undefined).toBe(hasCc);
    if (!binary) return;
    // Started by hand, with no IPC channel from a worker, it must say so rather than wait forever.
    const r = await execa(binary, [WATCHDOG_TAG], { reject: false, timeout: 10_000 });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('no IPC channel');
    // Statically linked where the compiler has a static C library: no program interpreter to load.
    const staticLibc = path.isAbsolute((await execa('cc', ['-print-file-name=libc.a'])).stdout.trim());
    expect(hasInterpreter(readFileSync(binary))).toBe(!staticLibc);
    // Each step's leader is its own session's leader, and the spawner (not the worker) its parent.
    const ws = workspace();
    const out = await executeStep(parseCommandSpec({ command: '/bin/sh', args: ['-c', 'cat /proc/$$/stat > stat.txt'] }), {
      workspace: ws,
    });
    expect(out.exitCode).toBe(0);
    const stat = readFileSync(path.join(ws, 'stat.txt'), 'latin1');
    const [pid, ppid, pgrp, session] = [
      Number(stat.split(' ')[0]),
      ...stat
        .slice(stat.lastIndexOf(')') + 4)
        .split(' ')
        .slice(0, 3)
        .map(Number),
    ];
    expect([pgrp, session]).toEqual([pid, pid]);
    expect(ppid).toBe(stepSpawner().pid);
    // It reports the leader's start time (the reaping registry's guard against pid reuse) as /proc has it.
    const g = await spawnGroup('/bin/sh', ['-c', 'cat /proc/$$/stat > stat2.txt'], { cwd: ws, env: {} });
    g.stdout.resume();
    g.stderr.resume();
    await g.exited;
    g.release();
    const leader = parseStat(g.pid, readFileSync(path.join(ws, 'stat2.txt'), 'latin1'));
    expect(leader.startTime).toBeGreaterThan(0);
    expect(g.startTime).toBe(leader.startTime);
  });

  it('the compiled spawner says a group is gone only when nothing but its watchdog was left, and then it is gone', async () => {
    if (!(await nativeSpawner())) return;
    const run = async (script: string) => {
      const g = await spawnGroup('/bin/sh', ['-c', script], { cwd: workspace(), env: { PATH: '/usr/bin:/bin' } });
      g.stdout.resume();
      g.stderr.resume();
      const exit = await g.exited;
      return { g, exit, left: sessionMembers(g.pgid).length };
    };
    const alone = await run('exit 3');
    expect(alone.exit).toMatchObject({ exitCode: 3, groupGone: true });
    expect(alone.left).toBe(0);
    alone.g.release();
    // A program that leaves a process behind: the worker must still find and stop it.
    const leftover = await run('sleep 30 & exit 0');
    expect(leftover.exit).toMatchObject({ exitCode: 0, groupGone: false });
    expect(leftover.left).toBe(2); // the sleep and the watchdog
    expect(await stopGroup(leftover.g.pgid, 200)).toBe(true);
    leftover.g.release();
    expect(sessionMembers(leftover.g.pgid)).toEqual([]);
  });

  it('keeps each of many live watchdogs on a stack of its own, and reuses the stacks of those gone', async () => {
    // The compiled spawner's watchdogs share its memory, each on a stack from a pool of 64 per
    // chunk: more groups at once than one chunk, each held open by a process left behind, then
    // released; twice, so the second round runs on the first round's stacks.
    const marker = randomUUID();
    const round = async () => {
      const groups = await Promise.all(
        Array.from({ length: 80 }, async () => {
          const g = await spawnGroup('/bin/sh', ['-c', 'sleep 30 & exit 0'], {
            cwd: workspace(),
            env: { PATH: '/usr/bin:/bin', [MARK]: marker },
          });
          g.stdout.resume();
          g.stderr.resume();
          expect(await g.exited).toMatchObject({ exitCode: 0, groupGone: false });
          return g;
        }),
      );
      expect(markedProcesses(MARK, marker)).toHaveLength(80);
      // The sleep and its watchdog in every session, until the lifelines close.
      expect(groups.map((g) => sessionMembers(g.pgid).length)).toEqual(groups.map(() => 2));
      for (const g of groups) g.release();
      await waitFor(() => groups.every((g) => sessionMembers(g.pgid).length === 0), 'every released group killed by its watchdog');
      expect(markedProcesses(MARK, marker)).toEqual([]);
    };
    await round();
    await round();
  }, 60_000);

  it('a program that cannot start fails its step with the reason, and the spawner serves the next', async () => {
    const missingCwd = path.join(tmp, 'no-such-dir');
    await expect(spawnGroup('/bin/true', [], { cwd: missingCwd, env: {} })).rejects.toThrow(/chdir: No such file or directory|ENOENT/);
    // A file that is executable but no program: the shell's convention, 126, with the reason on stderr.
    const ws = workspace();
    const bogus = path.join(ws, 'bogus');
    writeFileSync(bogus, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 0, 0]), { mode: 0o755 });
    const out = await executeStep(parseCommandSpec({ command: bogus }), { workspace: ws });
    expect(out.exitCode).toBe(126);
    expect(out.stderrTail.join('\n')).toMatch(/Exec format error/);
    await expect(spawnGroup('/bin/echo', ['a\0b'], { cwd: ws, env: {} })).rejects.toThrow(/NUL|null bytes/);
    const next = await executeStep(parseCommandSpec({ command: '/bin/echo', args: ['still here'] }), { workspace: workspace() });
    expect(next).toMatchObject({ exitCode: 0, stdoutTail: ['still here'] });
  });

  it('starts a program with a very long argument list (a spawn request of a few hundred kB)', async () => {
    const args = ['-c', 'echo "$#"', 'sh', ...Array.from({ length: 100_000 }, (_, i) => String(i % 10))];
    const out = await executeStep(parseCommandSpec({ command: '/bin/sh', args }), { workspace: workspace() });
    expect(out).toMatchObject({ exitCode: 0, stdoutTail: ['100000'] });
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
    expect(markedProcesses(MARK, marker)).toHaveLength(5);
    const helper = stepSpawner().pid!;
    process.kill(helper, 'SIGKILL');
    const out = await run;
    expect(out).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    expect(markedProcesses(MARK, marker)).toEqual([]);

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
