// Prompt templates: "{{item.skill_name}}", "{{steps.classify.category}}", "{{steps.grade}}" (whole
// output as JSON) and "{{item}}" (whole item as JSON). Deterministic and pure: the workflow renders,
// and the validator checks every reference statically against what exists at that step.

export type TemplateRef =
  | { kind: 'item'; field?: string; raw: string }
  | { kind: 'step'; step: string; field?: string; raw: string }
  | { kind: 'invalid'; raw: string; reason: string };

const PLACEHOLDER = /\{\{\s*(.*?)\s*\}\}/g;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseRef(expr: string): TemplateRef {
  const parts = expr.split('.');
  if (parts.some((p) => !IDENT.test(p))) return { kind: 'invalid', raw: expr, reason: 'expected item[.field] or steps.<step>[.field]' };
  if (parts[0] === 'item' && parts.length <= 2) return { kind: 'item', field: parts[1], raw: expr };
  if (parts[0] === 'steps' && parts.length >= 2 && parts.length <= 3) return { kind: 'step', step: parts[1]!, field: parts[2], raw: expr };
  return { kind: 'invalid', raw: expr, reason: 'expected item[.field] or steps.<step>[.field]' };
}

/** Every placeholder in a template, in order. */
export function templateRefs(template: string): TemplateRef[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => parseRef(m[1]!));
}

export interface TemplateContext {
  item: Record<string, unknown>;
  steps: Record<string, unknown>;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Renders a template; a reference to something absent renders empty (the validator rules that out). */
export function renderTemplate(template: string, ctx: TemplateContext): string {
  return template.replace(PLACEHOLDER, (_all, expr: string) => {
    const ref = parseRef(expr);
    if (ref.kind === 'item') return show(ref.field === undefined ? ctx.item : ctx.item[ref.field]);
    if (ref.kind === 'step') {
      const out = ctx.steps[ref.step];
      if (ref.field === undefined) return show(out);
      return show(out && typeof out === 'object' ? (out as Record<string, unknown>)[ref.field] : undefined);
    }
    return '';
  });
}

export function renderMap(map: Record<string, string>, ctx: TemplateContext): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, t]) => [k, renderTemplate(t, ctx)]));
}
