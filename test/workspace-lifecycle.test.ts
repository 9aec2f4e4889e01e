import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeStep, prepareWorkspace } from '../src/activities/step/command.js';
import { removeWorkspace } from '../src/activities/step/workspace.js';
import { parseCommandSpec } from '../src/shared/step/command-spec.js';
import { waitFor } from './support/procs.js';

// A step's workspace is made fresh, and a finished one removed, with as few calls on the worker's
// event loop as the usual case allows; whatever else a program left must not survive or escape.

const tmp = mkdtempSync(path.join(os.tmpdir(), 'shepherd-ws-life-'));
const EMPTY = { files: [], inputs: [] };
const openFds = () => readdirSync('/proc/self/fd').length;
const fdTargets = () =>
  readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });

describe('prepareWorkspace', () => {
  it('creates a missing workspace, parents included, with its reserved directory', async () => {
    const ws = path.join(tmp, 'new', 'wf', 'run', 'replicate-1', '1');
    await prepareWorkspace(ws, EMPTY);
    expect(readdirSync(ws)).toEqual(['.shepherd']);
  });

  it('empties a workspace an earlier attempt left, never following a symlink out of it', async () => {
    const outside = path.join(tmp, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'keep.txt'), 'x');
    const ws = path.join(tmp, 'again');
    mkdirSync(path.join(ws, '.shepherd'), { recursive: true });
    writeFileSync(path.join(ws, '.shepherd', 'result.json'), '{"stale":true}');
    writeFileSync(path.join(ws, 'stdout.log'), 'old');
    symlinkSync(outside, path.join(ws, 'link'));
    await prepareWorkspace(ws, EMPTY);
    expect(readdirSync(ws)).toEqual(['.shepherd']);
    expect(readdirSync(path.join(ws, '.shepherd'))).toEqual([]);
    expect(readdirSync(outside)).toEqual(['keep.txt']);
  });
});

describe('removeWorkspace', () => {
  const usual = (name: string) => {
    const ws = path.join(tmp, name);
    mkdirSync(path.join(ws, '.shepherd'), { recursive: true });
    for (const f of ['stdout.log', 'stderr.log', '.shepherd/result.json']) writeFileSync(path.join(ws, f), '');
    return ws;
  };

  it('removes a workspace holding only the logs and the result', async () => {
    const ws = usual('usual');
    await removeWorkspace(ws);
    expect(existsSync(ws)).toBe(false);
  });

  it('removes whatever else the program left, in the workspace or in its reserved directory', async () => {
    const extra = usual('extra');
    mkdirSync(path.join(extra, 'out', 'deep'), { recursive: true });
    writeFileSync(path.join(extra, 'out', 'deep', 'data.bin'), 'x');
    const reserved = usual('reserved');
    writeFileSync(path.join(reserved, '.shepherd', 'other'), 'x');
    const noResult = path.join(tmp, 'no-result');
    mkdirSync(path.join(noResult, '.shepherd'), { recursive: true });
    writeFileSync(path.join(noResult, 'stdout.log'), '');
    for (const ws of [extra, reserved, noResult]) await removeWorkspace(ws);
    for (const ws of [extra, reserved, noResult]) expect(existsSync(ws)).toBe(false);
  });

  it('leaves what a symlink in the workspace points to', async () => {
    const target = path.join(tmp, 'target');
    mkdirSync(target);
    writeFileSync(path.join(target, 'keep.txt'), 'x');
    const ws = usual('linked');
    symlinkSync(target, path.join(ws, 'link'));
    await removeWorkspace(ws);
    expect(existsSync(ws)).toBe(false);
    expect(readdirSync(target)).toEqual(['keep.txt']);
  });
});

describe('step log files', () => {
  it('are complete and closed when executeStep returns, for quiet and chatty programs alike', async () => {
    const before = openFds();
    for (const [name, script] of [
      ['quiet', 'exit 0'],
      ['chatty', 'i=0; while [ $i -lt 2000 ]; do echo "line $i"; echo "err $i" >&2; i=$((i+1)); done'],
    ] as const) {
      const ws = path.join(tmp, `logs-${name}`);
      const spec = parseCommandSpec({ command: '/bin/sh', args: ['-c', script] });
      await prepareWorkspace(ws, spec);
      const outcome = await executeStep(spec, { workspace: ws });
      expect(outcome.exitCode).toBe(0);
      expect(fdTargets().filter((t) => t.startsWith(ws))).toEqual([]);
      if (name === 'chatty') expect(outcome.stdoutTail.at(-1)).toBe('line 1999');
    }
    const out = readFileSync(path.join(tmp, 'logs-chatty', 'stdout.log'), 'utf8')
      .trimEnd()
      .split('\n');
    expect(out).toHaveLength(2000);
    expect(
      readFileSync(path.join(tmp, 'logs-chatty', 'stderr.log'), 'utf8')
        .trimEnd()
        .split('\n')
        .at(-1),
    ).toBe('err 1999');
    // Nothing of the two steps stays open in this process (the spawner's channel may have opened).
    expect(openFds()).toBeLessThanOrEqual(before + 4);
  });

  it('are released when a step cannot start', async () => {
    const ws = path.join(tmp, 'logs-nostart');
    const spec = parseCommandSpec({ command: '/bin/true' });
    await prepareWorkspace(ws, spec);
    // stdout.log opens, stderr.log cannot (a directory is in its place): the first must not leak.
    mkdirSync(path.join(ws, 'stderr.log'));
    await expect(executeStep(spec, { workspace: ws })).rejects.toThrow(/EISDIR/);
    expect(existsSync(path.join(ws, 'stdout.log'))).toBe(true);
    // Released asynchronously (the stream closes its descriptor itself).
    await waitFor(() => fdTargets().every((t) => !t.startsWith(ws)), 'the step log descriptors closed');
  });
});
