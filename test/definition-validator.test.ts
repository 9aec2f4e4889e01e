import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConversationDefinitionInput } from '../src/shared/conversations/schemas.js';
import { formatIssues, validateDefinition, type DefinitionIssue } from '../src/shared/conversations/definition-validator.js';
import { nextStep } from '../src/shared/conversations/routing.js';
import { renderTemplate, templateRefs } from '../src/shared/conversations/template.js';

// Static validation is pure: these are plain unit tests over the shipped example definitions and
// small hand-made broken ones.

const load = (file: string) => JSON.parse(readFileSync(`examples/conversations/${file}`, 'utf8')) as ConversationDefinitionInput;

function issuesOf(def: unknown, knownModels?: string[]): DefinitionIssue[] {
  const v = validateDefinition(def, { knownModels });
  expect(v.ok).toBe(false);
  return v.issues;
}

function linear(
  steps: ConversationDefinitionInput['steps'],
  extra: Partial<ConversationDefinitionInput> = {},
): ConversationDefinitionInput {
  return { name: 'demo', item: { key: 'id', fields: ['id', 'text'] }, start: steps[0]!.id, steps, ...extra };
}

const llm = (prompt: string, model = 'm1') => ({ kind: 'llm' as const, model, prompt });

describe('the shipped WF3005 example', () => {
  it('is valid', () => {
    const v = validateDefinition(load('wf3005.json'), { knownModels: ['qwen2.5:7b', 'gemma3:4b', 'mistral:latest'] });
    expect(v.issues).toEqual([]);
    expect(v.ok).toBe(true);
  });

  it('names a model no worker serves', () => {
    const issues = issuesOf(load('wf3005.json'), ['qwen2.5:7b', 'gemma3:4b']);
    expect(issues.map((i) => i.step)).toEqual(['challenge']);
    expect(issues[0]!.message).toContain("model 'mistral:latest'");
  });
});

describe("the seed's unwired WF3005", () => {
  it("is rejected, naming the unwired 'save' and 'apply' steps", () => {
    const issues = issuesOf(load('wf3005-unwired.json'));
    const text = formatIssues(issues);
    expect(text).toContain("step 'save' is unreachable from start step 'triage': no step routes to it");
    expect(text).toContain("step 'apply' has no actor");
    expect(text).toContain("step 'apply' is not wired onward");
    expect(text).toContain("step 'apply' is unreachable from start step 'triage': only unreachable steps route to it (save)");
    expect(new Set(issues.map((i) => i.step))).toEqual(new Set(['save', 'apply']));
    expect(issues.find((i) => i.message.includes('no actor'))!.path).toBe('definition.steps.apply.actor');
  });
});

describe('wiring rules', () => {
  it('a route to a missing step names both steps', () => {
    const issues = issuesOf(linear([{ id: 'a', actor: llm('hi'), next: 'b' }]));
    expect(formatIssues(issues)).toContain("step 'a' routes to 'b', which does not exist");
  });

  it('a missing start step', () => {
    const issues = issuesOf({ ...linear([{ id: 'a', actor: llm('hi'), end: true }]), start: 'zzz' });
    expect(issues[0]).toMatchObject({ path: 'definition.start', message: "start step 'zzz' does not exist" });
  });

  it('a cycle is rejected (every item must end)', () => {
    const issues = issuesOf(
      linear([
        { id: 'a', actor: llm('x'), next: 'b' },
        {
          id: 'b',
          actor: llm('x'),
          next: { on: 'again', cases: { true: 'a', false: 'c' } },
          output: { format: 'json', fields: { again: 'boolean' } },
        },
        { id: 'c', actor: llm('x'), end: true },
      ]),
    );
    expect(formatIssues(issues)).toContain('steps form a cycle (a -> b -> a)');
  });

  it('no reachable terminal step', () => {
    const issues = issuesOf(
      linear([
        { id: 'a', actor: llm('x'), next: 'b' },
        { id: 'b', actor: llm('x'), next: 'a' },
      ]),
    );
    expect(formatIssues(issues)).toMatch(/cycle/);
  });

  it('a step with both next and end, and duplicate ids', () => {
    const issues = issuesOf(
      linear([
        { id: 'a', actor: llm('x'), next: 'b', end: true },
        { id: 'b', actor: llm('x'), end: true },
        { id: 'b', actor: llm('y'), end: true },
      ]),
    );
    const text = formatIssues(issues);
    expect(text).toContain("step 'a' has both next and end: true");
    expect(text).toContain("duplicate step id 'b'");
  });

  it('routing on an enum must cover every value or have a default, and cases must be possible', () => {
    const issues = issuesOf(
      linear([
        {
          id: 'grade',
          actor: llm('x'),
          output: { format: 'json', fields: { grade: { type: 'string', enum: ['pass', 'weak', 'fail'] } } },
          next: { on: 'grade', cases: { pass: 'done', maybe: 'done' } },
        },
        { id: 'done', actor: llm('x'), end: true },
      ]),
    );
    const text = formatIssues(issues);
    expect(text).toContain("case 'maybe' can never match grade (pass | weak | fail)");
    expect(text).toContain("no route for grade = 'weak', 'fail' and no default");
  });

  it('routing on a field the output does not declare', () => {
    const issues = issuesOf(
      linear([
        { id: 'a', actor: llm('x'), next: { on: 'verdict', cases: { yes: 'b' }, default: 'b' } },
        { id: 'b', actor: llm('x'), end: true },
      ]),
    );
    expect(formatIssues(issues)).toContain("step 'a' routes on 'verdict', which its output does not declare (fields: text)");
  });

  it('apply_decision needs a save_decision that always runs before it', () => {
    const issues = issuesOf(
      linear([
        {
          id: 'classify',
          actor: llm('x'),
          output: { format: 'json', fields: { ok: 'boolean' } },
          next: { on: 'ok', cases: { true: 'save', false: 'apply' } },
        },
        { id: 'save', actor: { kind: 'db', action: 'save_decision', fields: {} }, next: 'apply' },
        { id: 'apply', actor: { kind: 'db', action: 'apply_decision' }, end: true },
      ]),
    );
    expect(formatIssues(issues)).toContain("step 'apply' applies a decision, but no save_decision step always runs before it");
  });

  it('a heartbeat timeout longer than the step timeout', () => {
    const issues = issuesOf(linear([{ id: 'a', actor: llm('x'), timeout: '30s', heartbeatTimeout: '1m', end: true }]));
    expect(issues[0]!.message).toContain('heartbeatTimeout (1m) must be shorter than timeout (30s)');
  });

  it('schema errors name the step by id, not by index', () => {
    const issues = issuesOf(linear([{ id: 'a', actor: { kind: 'llm', model: 'm1' } as never, end: true }]));
    expect(issues[0]!.path).toBe('definition.steps.a.actor.prompt');
    expect(issues[0]!.step).toBe('a');
  });
});

describe('template references', () => {
  const branchy = (prompt: string) =>
    linear([
      {
        id: 'triage',
        actor: llm('{{item.text}}'),
        output: { format: 'json', fields: { kind: { type: 'string', enum: ['x', 'y'] }, note: 'string' } },
        next: { on: 'kind', cases: { x: 'left', y: 'right' } },
      },
      { id: 'left', actor: llm('left'), output: { format: 'json', fields: { answer: 'string' } }, next: 'join' },
      { id: 'right', actor: llm('right'), next: 'join' },
      { id: 'join', actor: llm(prompt), end: true },
    ]);

  it('may use any step that runs on every route before it', () => {
    expect(validateDefinition(branchy('{{steps.triage.note}} {{item.id}} {{item}} {{steps.triage}}')).issues).toEqual([]);
  });

  it('may not use a step that only runs on some routes', () => {
    const issues = issuesOf(branchy('{{steps.left.answer}}'));
    expect(issues[0]).toMatchObject({ step: 'join', path: 'definition.steps.join.actor.prompt' });
    expect(issues[0]!.message).toContain("step 'left' has not always run before 'join'");
  });

  it('may not use a later step, its own output, an unknown step, or an undeclared field', () => {
    const issues = issuesOf(
      linear([
        { id: 'a', actor: llm('{{steps.b.text}} {{steps.a.text}} {{steps.nope.x}} {{item.missing}}'), next: 'b' },
        { id: 'b', actor: llm('{{steps.a.verdict}} {{stepz.a}}'), end: true },
      ]),
    );
    const text = formatIssues(issues);
    expect(text).toContain("{{steps.b.text}}: step 'b' has not always run before 'a'");
    expect(text).toContain('{{steps.a.text}}: a step cannot use its own output');
    expect(text).toContain("{{steps.nope.x}}: there is no step 'nope'");
    expect(text).toContain("{{item.missing}}: items have no field 'missing'");
    expect(text).toContain("{{steps.a.verdict}}: step 'a' output has no field 'verdict' (fields: text)");
    expect(text).toContain('{{stepz.a}}: expected item[.field] or steps.<step>[.field]');
  });

  it('checks script args and inputs and db fields too', () => {
    const issues = issuesOf(
      linear([
        { id: 'a', actor: { kind: 'script', command: 'node', args: ['{{item.nope}}'], input: { x: '{{steps.zz}}' } }, next: 'b' },
        { id: 'b', actor: { kind: 'db', action: 'save_decision', fields: { y: '{{steps.a.q}}' } }, end: true },
      ]),
    );
    expect(issues.map((i) => i.path)).toEqual([
      'definition.steps.a.actor.args[0]',
      'definition.steps.a.actor.input.x',
      'definition.steps.b.actor.fields.y',
    ]);
  });
});

describe('template rendering and routing', () => {
  it('renders item fields, step fields and whole objects', () => {
    const out = renderTemplate('{{ item.name }} / {{steps.a.n}} / {{steps.a}} / {{item.none}}.', {
      item: { name: 'Rust' },
      steps: { a: { n: 3 } },
    });
    expect(out).toBe('Rust / 3 / {"n":3} / .');
    expect(templateRefs('{{item.a}}{{steps.b.c}}').map((r) => r.kind)).toEqual(['item', 'step']);
  });

  it('routes by field value, booleans included, and falls back to the default', () => {
    const step = { id: 's', next: { on: 'ok', cases: { true: 'yes', false: 'no' } } } as never;
    expect(nextStep(step, { ok: true })).toBe('yes');
    expect(nextStep(step, { ok: false })).toBe('no');
    expect(() => nextStep(step, { ok: 'maybe' })).toThrow(/matches no route/);
    const withDefault = { id: 's', next: { on: 'k', cases: { a: 'x' }, default: 'd' } } as never;
    expect(nextStep(withDefault, { k: 'zzz' })).toBe('d');
    expect(nextStep({ id: 'e', end: true } as never, {})).toBeNull();
  });
});
