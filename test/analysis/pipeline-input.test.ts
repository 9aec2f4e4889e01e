import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeIssues } from '../../src/shared/schemas.js';
import { appAnalysisWorkflowId } from '../../src/shared/analysis/ids.js';
import { analysisPipelineSchema } from '../../src/shared/analysis/input.js';
import { pipelineInput } from './pipeline-fakes.js';

// The input schema: strict, every problem named by its field, and the ID rules that keep
// analysis-<pipeline>-<model>-<app> unique per target.

const issues = (input: unknown) => {
  const r = analysisPipelineSchema.safeParse(input);
  return r.success ? '' : describeIssues(r.error);
};

describe('analysisPipeline input', () => {
  it('accepts the example pipelines, with defaults filled in', () => {
    const files = readdirSync('examples/analysis').filter((f) => f.startsWith('four-apps') && f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const r = analysisPipelineSchema.safeParse(JSON.parse(readFileSync(`examples/analysis/${f}`, 'utf8')));
      expect(r.success, `${f}: ${r.success ? '' : describeIssues(r.error)}`).toBe(true);
    }
    const p = analysisPipelineSchema.parse(pipelineInput('p1', 1));
    expect(p.targets[0]!.app).toBe('1'); // app numbers become their decimal string
    expect(p.breakers).toEqual({
      analyzerFailureThreshold: 3,
      analyzerCooldownTargets: 2,
      analyzerCooldown: '5m',
      pipelineFailureThreshold: 3,
      pipelineResetWait: 0,
    });
    expect(p.timeouts.hold).toBe('1h');
  });

  it('names the field of each problem', () => {
    const base = pipelineInput('p1', 2);
    expect(issues({ ...base, extra: 1 })).toMatch(/input: unrecognized key:? "extra"/i);
    expect(issues({ ...base, targets: [] })).toMatch(/input\.targets: needs at least one target/);
    expect(issues({ ...base, targets: [{ ...base.targets[0]!, port: 70000 }] })).toMatch(/input\.targets\.0\.port/);
    expect(issues({ ...base, targets: [{ ...base.targets[0]!, sourceDir: '/etc' }] })).toMatch(
      /input\.targets\.0\.sourceDir: must be a relative path/,
    );
    expect(issues({ ...base, targets: [{ ...base.targets[0]!, healthPath: 'health' }] })).toMatch(
      /input\.targets\.0\.healthPath: must start with "\/"/,
    );
    expect(issues({ ...base, targets: [{ ...base.targets[0]!, image: 'x:1' }] })).toMatch(
      /input\.targets\.0\.image: give either image or buildContext/,
    );
    const { buildContext: _b, ...noBuild } = base.targets[0]!;
    expect(issues({ ...base, targets: [noBuild] })).toMatch(
      /input\.targets\.0\.buildContext: dynamic\/performance analyzers need the app running/,
    );
    expect(issues({ ...base, targets: [noBuild], analyzers: [{ name: 'static' }] })).toBe('');
    expect(issues({ ...base, analyzers: [{ name: 'fuzzing' }] })).toMatch(/input\.analyzers\.0\.name/);
    expect(issues({ ...base, analyzers: [{ name: 'static' }, { name: 'static' }] })).toMatch(
      /input\.analyzers\.1\.name: analyzer "static" listed twice/,
    );
    expect(issues({ ...base, analyzers: [{ name: 'static' }], targets: [{ ...base.targets[0]!, analyzers: ['dynamic'] }] })).toMatch(
      /input\.targets\.0\.analyzers\.0: analyzer "dynamic" is not configured/,
    );
    expect(issues({ ...base, concurrency: 0 })).toMatch(/input\.concurrency/);
    expect(issues({ ...base, breakers: { analyzerFailureThreshold: 0 } })).toMatch(/input\.breakers\.analyzerFailureThreshold/);
    expect(issues({ ...base, timeouts: { hold: 'forever' } })).toMatch(/input\.timeouts\.hold/);
  });

  it('takes a progressTimeout on tool analyzers, shorter than their timeout, and refuses it on ai-review', () => {
    const base = pipelineInput('p1', 1);
    const withAnalyzers = (analyzers: unknown[]) => ({ ...base, analyzers });
    expect(issues(withAnalyzers([{ name: 'static', timeout: '10m', progressTimeout: '2m' }]))).toBe('');
    expect(issues(withAnalyzers([{ name: 'static', timeout: '1m', progressTimeout: '2m' }]))).toMatch(
      /input\.analyzers\.0\.progressTimeout: must be shorter than timeout \(1m\)/,
    );
    expect(issues(withAnalyzers([{ name: 'ai-review', progressTimeout: '2m' }]))).toMatch(
      /input\.analyzers\.0\.progressTimeout: ai-review has no progressTimeout/,
    );
    expect(issues(withAnalyzers([{ name: 'performance', progressTimeout: 'soon' }]))).toMatch(/input\.analyzers\.0\.progressTimeout/);
  });

  it('forbids "-" in pipeline ids and app names, so two targets can never share a workflow ID', () => {
    const base = pipelineInput('p1', 1);
    expect(issues({ ...base, pipelineId: 'a-b' })).toMatch(/input\.pipelineId: a pipeline id must be .*no "-"/);
    expect(issues({ ...base, targets: [{ ...base.targets[0]!, app: 'x-1' }] })).toMatch(/input\.targets\.0\.app/);
    // Model names keep their hyphens; with the other two parts hyphen-free the ID still decodes one way.
    expect(issues({ ...base, targets: [{ ...base.targets[0]!, model: 'claude-4.5-haiku-20251001' }] })).toBe('');
    expect(appAnalysisWorkflowId('p1', 'claude-3-5-haiku', '2')).toBe('analysis-p1-claude-3-5-haiku-2');
  });

  it('a target listed twice is accepted (the workflow runs it once and reports the duplicate)', () => {
    const base = pipelineInput('p1', 1);
    expect(issues({ ...base, targets: [base.targets[0]!, base.targets[0]!] })).toBe('');
  });
});
