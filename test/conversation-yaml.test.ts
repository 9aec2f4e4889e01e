import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyTimeoutRecommendations, type TimeoutRecommendation } from '../src/db/conversations/step-metrics.js';
import { readDefinitionFile } from '../src/config/input-file.js';
import { assertValidDefinition, validateDefinition } from '../src/shared/conversations/definition-validator.js';
import { tempDir } from './support/harness.js';

// Definitions are data in JSON or YAML. The YAML example is the JSON one, field for field; a run
// from it is in conversation-batch.test.ts ("example inputs as shipped").

describe('YAML conversation definitions', () => {
  it('the shipped wf3005.yaml is wf3005.json, and valid', () => {
    const yaml = readDefinitionFile('examples/conversations/wf3005.yaml');
    expect(yaml).toEqual(readDefinitionFile('examples/conversations/wf3005.json'));
    expect(validateDefinition(yaml).ok).toBe(true);
  });

  it('a malformed file is refused, naming the file and the format', () => {
    const file = path.join(tempDir('yaml'), 'broken.yml');
    writeFileSync(file, 'name: x\nsteps: [\n');
    expect(() => readDefinitionFile(file)).toThrow(/broken\.yml is not valid YAML/);
  });

  it('recommend --apply rewrites a YAML definition in place, keeping its comments', async () => {
    const file = path.join(tempDir('yaml'), 'wf3005.yaml');
    copyFileSync('examples/conversations/wf3005.yaml', file);
    const rec = (step: string, recommended: string, recommendedMs: number): TimeoutRecommendation => ({
      step,
      configuredMs: 60_000,
      configured: '1m',
      samples: 100,
      timedOut: 0,
      p99Ms: recommendedMs / 2,
      recommendedMs,
      recommended,
      verdict: recommendedMs > 60_000 ? 'too_tight' : 'too_loose',
    });
    const changed = await applyTimeoutRecommendations(file, [rec('triage', '3m', 180_000), rec('grade', '5s', 5_000)]);
    expect(changed).toEqual(['triage', 'grade']);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^# The WF3005 definition/);
    const def = assertValidDefinition(readDefinitionFile(file));
    const by = Object.fromEntries(def.steps.map((s) => [s.id, s]));
    expect(by.triage).toMatchObject({ timeout: '3m' });
    // The 30 s heartbeat default would outlast the new 5 s timeout: it is brought under it.
    expect(by.grade).toMatchObject({ timeout: '5s', heartbeatTimeout: '2s' });
  });
});
