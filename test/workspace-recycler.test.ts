import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { executeStep } from '../src/activities/step/command.js';
import { WorkspaceRecycler } from '../src/activities/step/workspace-recycler.js';
import { parseCommandSpec } from '../src/shared/step/command-spec.js';

// A batch's successful workspaces are emptied and moved to its next steps instead of removed and
// made again. What must hold: the next step's workspace is as fresh as a new one, and nothing
// outside a workspace is ever touched by emptying it.

const tmp = mkdtempSync(path.join(os.tmpdir(), 'shepherd-ws-recycle-'));
const EMPTY = { files: [], inputs: [] };
let n = 0;
const fresh = () => path.join(tmp, `run-${n++}`);

/** Runs a step that leaves logs and a result behind, in a workspace the recycler prepared. */
async function finishedStep(recycler: WorkspaceRecycler, ws: string, extra = ''): Promise<void> {
  await recycler.prepare(ws, EMPTY);
  const script = `echo out; echo err >&2; printf '{"ok":1}' > "$SHEPHERD_RESULT_FILE"; ${extra}`;
  const out = await executeStep(parseCommandSpec({ command: '/bin/sh', args: ['-c', script] }), { workspace: ws });
  expect(out.exitCode).toBe(0);
}

describe('WorkspaceRecycler', () => {
  it('moves a finished workspace to the next step, holding nothing but the two logs, empty', async () => {
    const root = fresh();
    const recycler = new WorkspaceRecycler(path.join(root, 'spares'), 4);
    const first = path.join(root, 'replicate-1', '1');
    await finishedStep(recycler, first);
    const inode = statSync(first).ino;
    await recycler.release(first);
    expect(existsSync(first)).toBe(false);

    const second = path.join(root, 'replicate-2', '1');
    await recycler.prepare(second, EMPTY);
    expect(statSync(second).ino).toBe(inode);
    expect(readdirSync(second).sort()).toEqual(['.shepherd', 'stderr.log', 'stdout.log']);
    expect(readdirSync(path.join(second, '.shepherd'))).toEqual([]);
    expect(readFileSync(path.join(second, 'stdout.log'), 'utf8')).toBe('');
    expect(readFileSync(path.join(second, 'stderr.log'), 'utf8')).toBe('');

    // The step run there sees no trace of the first: it lists its workspace before writing anything.
    const listing = await executeStep(
      parseCommandSpec({ command: '/bin/sh', args: ['-c', `ls -A .shepherd; cat stdout.log stderr.log >&2; echo listed`] }),
      { workspace: second },
    );
    expect(listing.stdoutTail).toEqual(['listed']);
    expect(listing.stderrTail).toEqual([]);
    await recycler.dispose();
  });

  it('removes, never reuses, a workspace holding anything else, and touches nothing outside it', async () => {
    const root = fresh();
    const outside = path.join(root, 'outside.txt');
    mkdirSync(root, { recursive: true });
    writeFileSync(outside, 'precious');
    const recycler = new WorkspaceRecycler(path.join(root, 'spares'), 8);
    const leftovers: Record<string, (ws: string) => void> = {
      'an extra file': (ws) => writeFileSync(path.join(ws, 'extra.csv'), 'x'),
      'a file in the reserved directory': (ws) => writeFileSync(path.join(ws, '.shepherd', 'other'), 'x'),
      'a log replaced by a symlink out of it': (ws) => {
        unlinkSync(path.join(ws, 'stdout.log'));
        symlinkSync(outside, path.join(ws, 'stdout.log'));
      },
      'a log replaced by a hard link to a file outside': (ws) => {
        unlinkSync(path.join(ws, 'stderr.log'));
        linkSync(outside, path.join(ws, 'stderr.log'));
      },
    };
    for (const [what, leave] of Object.entries(leftovers)) {
      const ws = path.join(root, what.replaceAll(' ', '-'), '1');
      await finishedStep(recycler, ws);
      leave(ws);
      await recycler.release(ws);
      expect(existsSync(ws), what).toBe(false);
    }
    expect(readFileSync(outside, 'utf8')).toBe('precious');
    // None was kept: the next workspace is a new directory.
    const next = path.join(root, 'next', '1');
    await recycler.prepare(next, EMPTY);
    expect(readdirSync(next)).toEqual(['.shepherd']);
    await recycler.dispose();
    expect(existsSync(path.join(root, 'spares'))).toBe(false);
  });

  it('empties an earlier tree where the next workspace goes, and keeps no more spares than asked', async () => {
    const root = fresh();
    const recycler = new WorkspaceRecycler(path.join(root, 'spares'), 2);
    const done = [1, 2, 3].map((i) => path.join(root, `replicate-${i}`, '1'));
    for (const ws of done) await finishedStep(recycler, ws);
    for (const ws of done) await recycler.release(ws);
    expect(readdirSync(path.join(root, 'spares'))).toHaveLength(2);
    expect(done.some((ws) => existsSync(ws))).toBe(false);

    const stale = path.join(root, 'replicate-9', '1');
    mkdirSync(path.join(stale, '.shepherd'), { recursive: true });
    writeFileSync(path.join(stale, '.shepherd', 'result.json'), '{"stale":true}');
    await recycler.prepare(stale, EMPTY);
    expect(readdirSync(stale)).toEqual(['.shepherd']);
    expect(readdirSync(path.join(stale, '.shepherd'))).toEqual([]);

    await recycler.dispose();
    expect(existsSync(path.join(root, 'spares'))).toBe(false);
  });
});
