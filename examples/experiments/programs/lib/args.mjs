// Strict argv parsing for the example classifiers. Every mistake is a UsageError (exit 2):
// a typo in a flag must never silently fall back to a default and produce a plausible result.

export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * Flag spec: { 'flag-name': { type: 'number'|'integer'|'string'|'enum', default?, required?,
 *   min?, max?, choices?, description } }. Values come back under camelCase keys.
 */
export function parseFlags(argv, spec) {
  const values = {};
  const seen = new Set();
  let help = false;

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--help' || token === '-h') {
      help = true;
      continue;
    }
    if (!token.startsWith('--') || token === '--') {
      throw new UsageError(`unexpected argument ${JSON.stringify(token)}: all arguments are --flag value pairs`);
    }
    const eq = token.indexOf('=');
    const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
    const def = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!def) {
      throw new UsageError(`unknown flag --${name} (known: ${Object.keys(spec).map((n) => `--${n}`).join(', ')})`);
    }
    if (seen.has(name)) throw new UsageError(`flag --${name} given more than once`);
    seen.add(name);

    let raw;
    if (eq !== -1) {
      raw = token.slice(eq + 1);
    } else {
      raw = argv[i + 1];
      // A following "--flag" means the value was forgotten; "-1" is still a valid value.
      if (raw === undefined || raw.startsWith('--')) throw new UsageError(`flag --${name} needs a value`);
      i++;
    }
    values[camel(name)] = convert(name, def, raw);
  }

  if (!help) {
    for (const [name, def] of Object.entries(spec)) {
      const key = camel(name);
      if (key in values) continue;
      if (def.required) throw new UsageError(`missing required flag --${name} (${def.description})`);
      values[key] = def.default;
    }
  }
  return { values, help };
}

function convert(name, def, raw) {
  if (raw === '') throw new UsageError(`flag --${name} needs a non-empty value`);
  switch (def.type) {
    case 'string':
      return raw;
    case 'enum':
      if (!def.choices.includes(raw)) {
        throw new UsageError(`invalid value for --${name}: ${JSON.stringify(raw)} (expected one of ${def.choices.join(', ')})`);
      }
      return raw;
    case 'number':
    case 'integer': {
      const pattern = def.type === 'integer' ? INTEGER : NUMBER;
      const value = Number(raw);
      if (!pattern.test(raw) || !Number.isFinite(value) || (def.type === 'integer' && !Number.isSafeInteger(value))) {
        throw new UsageError(`invalid value for --${name}: ${JSON.stringify(raw)} is not ${def.type === 'integer' ? 'an integer' : 'a number'}`);
      }
      if (def.min !== undefined && value < def.min) throw new UsageError(`invalid value for --${name}: ${raw} is below the minimum ${def.min}`);
      if (def.max !== undefined && value > def.max) throw new UsageError(`invalid value for --${name}: ${raw} is above the maximum ${def.max}`);
      if (def.exclusiveMin !== undefined && value <= def.exclusiveMin) {
        throw new UsageError(`invalid value for --${name}: ${raw} must be greater than ${def.exclusiveMin}`);
      }
      return value;
    }
    default:
      throw new Error(`flag --${name} has unknown type ${def.type}`);
  }
}

export function usage(program, summary, spec) {
  const lines = [`usage: node ${program} [flags]`, '', summary, '', 'flags:'];
  for (const [name, def] of Object.entries(spec)) {
    const kind = def.type === 'enum' ? def.choices.join('|') : def.type;
    const dflt = def.required ? 'required' : `default ${def.default}`;
    lines.push(`  --${name} <${kind}>`.padEnd(36) + `${def.description} (${dflt})`);
  }
  lines.push(`  --help`.padEnd(36) + 'print this help');
  lines.push('', 'env: SHEPHERD_RESULT_FILE (required) - where the result JSON is written');
  lines.push('exit codes: 0 ok, 2 invalid input (flags, env, dataset, split), 1 unexpected failure');
  return lines.join('\n');
}

function camel(name) {
  return name.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
}
