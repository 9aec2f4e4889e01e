import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelRegistry } from '../../src/config/models.js';
import { describeIssues } from '../../src/shared/schemas.js';
import { analysisPipelineSchema } from '../../src/shared/analysis/input.js';
import { ROOT } from './analyzer-support.js';

// The example inputs stay valid against the pipeline's schema (and the broken one stays broken,
// for the reasons the README shows); every target's source and build context exist.

const read = (f: string) => JSON.parse(readFileSync(path.join(ROOT, 'examples/analysis', f), 'utf8'));

describe('examples/analysis inputs', () => {
  for (const file of ['four-apps.json', 'four-apps-no-llm.json']) {
    it(`${file} is a valid pipeline over the four example apps`, () => {
      const parsed = analysisPipelineSchema.parse(read(file));
      expect(parsed.targets.map((t) => `${t.model}/${t.app}`)).toEqual(['qwen-coder/1', 'qwen-coder/2', 'llama-coder/1', 'llama-coder/2']);
      for (const t of parsed.targets) {
        expect(existsSync(path.join(ROOT, t.sourceDir, 'server.js'))).toBe(true);
        expect(t.buildContext).toBe(t.sourceDir);
      }
    });
  }

  it('broken.json is rejected, naming every bad field', () => {
    const r = analysisPipelineSchema.safeParse(read('broken.json'));
    expect(r.success).toBe(false);
    const message = describeIssues(r.error!);
    for (const field of [
      'input.pipelineId',
      'input.targets.0.app',
      'input.targets.0.sourceDir',
      'input.targets.0.port',
      'input.analyzers.1.name',
      'input.concurrency',
    ]) {
      expect(message).toContain(`${field}:`);
    }
  });

  it('models.json is a valid model registry naming the model four-apps.json reviews with', () => {
    const registry = parseModelRegistry(read('models.json'));
    const review = read('four-apps.json').analyzers.find((a: { name: string }) => a.name === 'ai-review');
    expect(Object.keys(registry.models)).toContain(review.config.model);
  });
});
