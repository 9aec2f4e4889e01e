import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FailureType, NON_RETRYABLE } from '../src/shared/failure-types.js';

// The catalogue is only useful if it is complete: every failure type the code throws by literal
// name must be in it, so the non-retryable lists built from it can name any of them.

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe('failure-type catalogue', () => {
  it('names every type thrown with ApplicationFailure by literal', () => {
    const thrown = new Set<string>();
    for (const file of sources('src')) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/ApplicationFailure\.(?:nonRetryable|retryable|create)\([^;]*?,\s*'([A-Z][A-Za-z]+)'/g))
        thrown.add(m[1]!);
    }
    expect(thrown.size).toBeGreaterThan(10);
    const known = new Set<string>(Object.values(FailureType));
    expect([...thrown].filter((t) => !known.has(t))).toEqual([]);
  });

  it('builds the non-retryable lists only from catalogued types', () => {
    const known = new Set<string>(Object.values(FailureType));
    for (const [site, list] of Object.entries(NON_RETRYABLE))
      expect(
        list.filter((t) => !known.has(t)),
        site,
      ).toEqual([]);
  });
});
