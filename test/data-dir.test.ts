import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../src/config/data-dir.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { tempDir } from './support/harness.js';

// Issue 12 item 7: the data directory resolves the same wherever a command runs, and a read
// command that finds no Shepherd database says so and exits non-zero (it used to open a new,
// empty embedded database under the current directory and print an empty export).
const CLI = path.join(PROJECT_ROOT, 'src/cli/main.ts');
const ENV_TS = path.join(PROJECT_ROOT, 'src/config/env.ts');
// tsx by absolute URL: these commands run from directories without node_modules.
const TSX = pathToFileURL(path.join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' };

const shepherd = (args: string[], cwd: string, env: Record<string, string>) =>
  execa(process.execPath, ['--import', TSX, CLI, ...args], { cwd, env: { ...baseEnv, ...env }, extendEnv: false, reject: false });

describe('data directory and missing databases', () => {
  let empty: TestDatabase;
  beforeAll(async () => {
    empty = await createTestDatabase('shepherd_empty');
  });
  afterAll(() => empty?.drop());

  it('the default and relative data dirs resolve against the Shepherd checkout, not the current directory', async () => {
    const show = `const { loadEnv } = await import(${JSON.stringify(ENV_TS)}); console.log(JSON.stringify([loadEnv({}).dataDir, loadEnv({ SHEPHERD_DATA_DIR: 'var/x' }).dataDir]))`;
    const from = async (cwd: string) =>
      JSON.parse((await execa(process.execPath, ['--import', TSX, '--input-type=module', '-e', show], { cwd })).stdout);
    const a = await from(tempDir('cwd-a'));
    const b = await from('/');
    expect(a).toEqual(b);
    expect(a).toEqual([path.join(PROJECT_ROOT, '.data'), path.join(PROJECT_ROOT, 'var/x')]);
  });

  it('export with no embedded database in the data dir says so, exits non-zero and creates nothing', async () => {
    const dataDir = tempDir('no-db');
    const r = await shepherd(['export', 'some-batch'], tempDir('elsewhere'), { SHEPHERD_DATA_DIR: dataDir });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(`no Shepherd database at ${path.join(dataDir, 'pglite')}`);
    expect(r.stdout).toBe('');
    expect(existsSync(path.join(dataDir, 'pglite'))).toBe(false);
  });

  it('read commands against a DATABASE_URL without Shepherd tables say so and exit non-zero; with them they work', async () => {
    for (const args of [
      ['export', 'some-batch'],
      ['conversations', 'audit', '--batch', 'some-batch'],
    ]) {
      const r = await shepherd(args, tempDir('elsewhere'), { DATABASE_URL: empty.url });
      expect(r.exitCode, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toContain('no Shepherd database');
    }
    const ok = await shepherd(['export', 'some-batch'], tempDir('elsewhere'), { DATABASE_URL: inject('databaseUrl') });
    expect(ok.exitCode, ok.stderr).toBe(0);
  });
});
