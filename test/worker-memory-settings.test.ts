import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { missingMemorySettings, WORKER_ENV, WORKER_NODE_FLAGS } from '../src/workers/memory-settings.js';

// The worker's memory settings live in one file but must be repeated where a worker is launched
// from outside TypeScript (package.json's script, the image's CMD): these keep them in step.

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
const envAssignments = Object.entries(WORKER_ENV).map(([k, v]) => `${k}=${v}`);

describe('worker memory settings', () => {
  // npm start runs the quick start's worker in its own process.
  it.each(['worker', 'start'])('npm run %s starts node with them', (name) => {
    const script = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts[name]!;
    const [before, after] = script.split(/\bnode\b/);
    for (const a of envAssignments) expect(before.split(/\s+/)).toContain(a);
    for (const f of WORKER_NODE_FLAGS) expect(after.split(/\s+/)).toContain(f);
  });

  it('the container image starts node with them', () => {
    const dockerfile = read('Dockerfile');
    for (const a of envAssignments) expect(dockerfile).toMatch(new RegExp(`^ENV ${a}$`, 'm'));
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]) as string[];
    expect(cmd[0]).toBe('node');
    for (const f of WORKER_NODE_FLAGS) expect(cmd).toContain(f);
  });

  it('names what a process started without them lacks; an operator value of either counts', () => {
    expect(missingMemorySettings([], {})).toEqual(['--max-semi-space-size=2', 'MALLOC_ARENA_MAX=2']);
    expect(missingMemorySettings([...WORKER_NODE_FLAGS], { ...WORKER_ENV })).toEqual([]);
    expect(missingMemorySettings([], { NODE_OPTIONS: '--enable-source-maps --max_semi_space_size=8', MALLOC_ARENA_MAX: '4' })).toEqual([]);
    expect(missingMemorySettings(['--max-semi-space-size=1'], { GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' })).toEqual([]);
    expect(missingMemorySettings(['--max-old-space-size=512'], { GLIBC_TUNABLES: 'glibc.malloc.tcache_count=0' })).toEqual([
      '--max-semi-space-size=2',
      'MALLOC_ARENA_MAX=2',
    ]);
  });
});
