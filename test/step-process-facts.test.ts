import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inheritedEnv } from '../src/activities/step/env.js';
import { resolveProgram } from '../src/activities/step/execute-step.js';
import { pageSize, parseStat, readStat } from '../src/activities/step/proc-stats.js';

// The small facts every step start and every /proc pass rely on, each rewritten for speed
// (issue 14): a wrong field here would misidentify a process group or leak a secret.

describe('parseStat', () => {
  it('reads state, ppid, pgrp, start time and rss, whatever the command name holds', () => {
    const fields = ['S', '41', '42', ...Array.from({ length: 16 }, (_, i) => String(100 + i)), '98765', '4096', '77', '0'];
    const line = `1234 (a) b (c d) ${fields.join(' ')}\n`;
    expect(parseStat(1234, line)).toEqual({ pid: 1234, state: 'S', ppid: 41, pgrp: 42, startTime: 98765, rssBytes: 77 * pageSize() });
  });

  it('agrees with the kernel about this very process', () => {
    const self = readStat(process.pid)!;
    expect(self.pid).toBe(process.pid);
    expect(self.ppid).toBe(process.ppid);
    expect(self.state).toMatch(/^[RS]$/);
    expect(self.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(self.startTime).toBeGreaterThan(0);
  });
});

describe('inheritedEnv', () => {
  it('keeps what programs need and nothing else', () => {
    const env = inheritedEnv({ PATH: '/x', HOME: '/h', LC_ALL: 'C', DATABASE_URL: 'postgres://secret', API_KEY: 'k', TERM: undefined });
    expect(env).toEqual({ PATH: '/x', HOME: '/h', LC_ALL: 'C' });
  });

  it('gives a PATH even when the worker has none', () => {
    expect(inheritedEnv({}).PATH).toBe('/usr/local/bin:/usr/bin:/bin');
  });
});

describe('resolveProgram', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'shepherd-resolve-'));
  const dir = (name: string) => {
    const d = path.join(root, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const file = (d: string, name: string, mode: number) => {
    writeFileSync(path.join(d, name), '#!/bin/sh\n');
    chmodSync(path.join(d, name), mode);
    return path.join(d, name);
  };

  it('takes the first executable file on PATH, skipping missing dirs, directories and non-executables', () => {
    const plain = dir('plain');
    file(plain, 'tool', 0o644);
    const shadow = dir('shadow');
    mkdirSync(path.join(shadow, 'tool'));
    const real = file(dir('real'), 'tool', 0o755);
    const later = file(dir('later'), 'tool', 0o755);
    const pathEnv = [path.join(root, 'missing'), plain, shadow, path.dirname(real), path.dirname(later)].join(':');
    expect(resolveProgram('tool', pathEnv, root)).toBe(real);
  });

  it('resolves a path with a slash against the workspace', () => {
    const ws = dir('ws');
    const script = file(dir('ws/bin'), 'run.sh', 0o755);
    expect(resolveProgram('bin/run.sh', '', ws)).toBe(script);
  });

  it('fails non-retryably, naming the program and the PATH, when nothing matches', () => {
    const plain = dir('only-plain');
    file(plain, 'nope', 0o600);
    let err: unknown;
    try {
      resolveProgram('nope', plain, root);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ type: 'CommandNotFound', nonRetryable: true });
    expect((err as Error).message).toContain(`"nope" is not an executable file on PATH (${plain})`);
  });

  it('reuses a resolution only for the same program, PATH and (where it matters) directory', () => {
    const first = file(dir('reuse-a'), 'same', 0o755);
    const second = file(dir('reuse-b'), 'same', 0o755);
    expect(resolveProgram('same', path.dirname(first), root)).toBe(first);
    expect(resolveProgram('same', path.dirname(second), root)).toBe(second);
    // A relative PATH entry resolves against the directory, so another directory is another answer.
    expect(resolveProgram('same', 'reuse-a', root)).toBe(first);
    expect(resolveProgram('same', '.', path.dirname(second))).toBe(second);
    // A program still missing is looked for again, never remembered as missing.
    expect(() => resolveProgram('later', path.dirname(first), root)).toThrow(/command not found/);
    const later = file(path.dirname(first), 'later', 0o755);
    expect(resolveProgram('later', path.dirname(first), root)).toBe(later);
  });
});
