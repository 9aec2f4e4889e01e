import { fieldEnum, fieldType, type FieldSpec, type OutputSpec } from './schemas.js';

// A step's declared output: the JSON schema sent to the model and the check of what came back.
// Pure: the LLM activity checks model replies, the workflow checks script results.

export function jsonSchemaFor(fields: Record<string, FieldSpec>): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [name, spec] of Object.entries(fields)) {
    const type = fieldType(spec);
    const prop: Record<string, unknown> = { type };
    const values = fieldEnum(spec);
    if (values) prop.enum = values;
    if (typeof spec !== 'string' && spec.description) prop.description = spec.description;
    properties[name] = prop;
    if (typeof spec === 'string' || !spec.optional) required.push(name);
  }
  return { type: 'object', properties, required };
}

/** One line telling a model which JSON to produce; also how the fake model server knows what to answer. */
export function formatInstruction(fields: Record<string, FieldSpec>): string {
  const parts = Object.entries(fields).map(([name, spec]) => {
    const values = fieldEnum(spec);
    return values ? `"${name}": one of ${values.map((v) => JSON.stringify(v)).join(' | ')}` : `"${name}": ${fieldType(spec)}`;
  });
  return `Respond with only a JSON object with these fields: ${parts.join(', ')}.`;
}

export type OutputCheck = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    default:
      return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

/** Checks an already-parsed JSON value against declared fields; extra fields are kept. */
export function checkFields(fields: Record<string, FieldSpec>, value: unknown): OutputCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: 'output is not a JSON object' };
  const obj = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(fields)) {
    const v = obj[name];
    if (v === undefined || v === null) {
      if (typeof spec === 'string' || !spec.optional) problems.push(`missing field '${name}'`);
      continue;
    }
    const type = fieldType(spec);
    if (!typeOk(type, v)) problems.push(`field '${name}' should be ${type}, got ${JSON.stringify(v).slice(0, 60)}`);
    const values = fieldEnum(spec);
    if (values && !values.includes(String(v)))
      problems.push(`field '${name}' = ${JSON.stringify(v).slice(0, 60)} is not one of ${values.join(' | ')}`);
  }
  return problems.length > 0 ? { ok: false, error: problems.join('; ') } : { ok: true, value: obj };
}

/** The first JSON object in a model's reply: models wrap JSON in prose or ``` fences despite instructions. */
export function extractJson(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    /* fall through */
  }
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(trimmed);
  if (fenced) {
    try {
      return JSON.parse(fenced[1]!);
    } catch {
      /* fall through */
    }
  }
  const start = trimmed.indexOf('{');
  const end = trimmed.lastIndexOf('}');
  if (start >= 0 && end > start) {
    try {
      return JSON.parse(trimmed.slice(start, end + 1));
    } catch {
      /* fall through */
    }
  }
  return undefined;
}

/** A reply as the step's output object: {text} for text steps, the checked object for json steps. */
export function parseReply(spec: OutputSpec, text: string): OutputCheck {
  if (spec.format === 'text') return { ok: true, value: { text } };
  const value = extractJson(text);
  if (value === undefined) return { ok: false, error: `reply is not JSON: ${JSON.stringify(text.slice(0, 120))}` };
  return checkFields(spec.fields, value);
}
