import {
  conversationDefinitionSchema,
  durationToMs,
  effectiveOutput,
  fieldEnum,
  fieldType,
  joinText,
  outputFields,
  stepPolicy,
  type ConversationDefinition,
  type Step,
} from './schemas.js';
import { routeTargets } from './routing.js';
import { templateRefs } from './template.js';

// Static validation of a conversation definition, before anything runs. Pure and deterministic:
// the conversationRun/conversationBatch workflows call it at the top, the CLI before starting.
// The seed's WF3005 ran for days with a 'save' step that was never routed to and an 'apply' step
// with no actor; each rule below exists so that such a definition is rejected with the step named.

export interface DefinitionIssue {
  /** Where in the definition, e.g. "steps.save.actor". */
  path: string;
  step?: string;
  message: string;
}

export type DefinitionValidation =
  { ok: true; definition: ConversationDefinition; issues: [] } | { ok: false; definition?: undefined; issues: DefinitionIssue[] };

export interface ValidateOptions {
  /** Model names the workers know; when given, an llm step naming another model is an error. */
  knownModels?: readonly string[];
}

export function formatIssues(issues: readonly DefinitionIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ');
}

/** Names a zod issue path with step ids instead of array indexes where possible. */
function zodPath(raw: unknown, path: PropertyKey[]): { path: string; step?: string } {
  const parts: string[] = ['definition'];
  let step: string | undefined;
  for (let i = 0; i < path.length; i++) {
    const p = path[i];
    if (i === 1 && path[0] === 'steps' && typeof p === 'number') {
      const id = (raw as { steps?: Array<{ id?: unknown }> })?.steps?.[p]?.id;
      if (typeof id === 'string') {
        step = id;
        parts.push(id);
        continue;
      }
      parts.push(`[${p}]`);
      continue;
    }
    parts.push(String(p));
  }
  return { path: parts.join('.'), step };
}

export function validateDefinition(raw: unknown, opts: ValidateOptions = {}): DefinitionValidation {
  const parsed = conversationDefinitionSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      issues: parsed.error.issues.map((i) => ({ ...zodPath(raw, i.path), message: i.message })),
    };
  }
  const issues = checkWiring(parsed.data, opts);
  return issues.length === 0 ? { ok: true, definition: parsed.data, issues: [] } : { ok: false, issues };
}

/** Throws an Error listing every issue; for callers outside workflows (CLI, activities). */
export function assertValidDefinition(raw: unknown, opts: ValidateOptions = {}): ConversationDefinition {
  const v = validateDefinition(raw, opts);
  if (!v.ok) throw new Error(`invalid conversation definition: ${formatIssues(v.issues)}`);
  return v.definition;
}

function checkWiring(def: ConversationDefinition, opts: ValidateOptions): DefinitionIssue[] {
  const issues: DefinitionIssue[] = [];
  const add = (step: string | undefined, path: string, message: string) => issues.push({ step, path, message });
  const steps = new Map<string, Step>();

  for (const step of def.steps) {
    if (steps.has(step.id)) add(step.id, `definition.steps.${step.id}`, `duplicate step id '${step.id}'`);
    else steps.set(step.id, step);
  }
  if (!def.item.fields.includes(def.item.key)) {
    add(undefined, 'definition.item.key', `key field '${def.item.key}' is not among item.fields (${def.item.fields.join(', ')})`);
  }
  if (!steps.has(def.start)) add(undefined, 'definition.start', `start step '${def.start}' does not exist`);

  for (const step of steps.values()) {
    const at = `definition.steps.${step.id}`;
    if (!step.actor) {
      add(step.id, `${at}.actor`, `step '${step.id}' has no actor: nothing would run it (give it an llm, script or db actor)`);
    }
    if (step.next !== undefined && step.end) add(step.id, `${at}.next`, `step '${step.id}' has both next and end: true`);
    if (step.next === undefined && !step.end) {
      add(step.id, `${at}.next`, `step '${step.id}' is not wired onward: it has no next step and is not marked end: true`);
    }
    for (const target of routeTargets(step.next)) {
      if (!steps.has(target)) add(step.id, `${at}.next`, `step '${step.id}' routes to '${target}', which does not exist`);
    }
    checkRouteField(step, add);
    if (step.actor?.kind === 'llm' && opts.knownModels && !opts.knownModels.includes(step.actor.model)) {
      add(
        step.id,
        `${at}.actor.model`,
        `step '${step.id}' uses model '${step.actor.model}', which no worker is configured for (known: ${opts.knownModels.join(', ') || 'none'})`,
      );
    }
    if (step.actor?.kind === 'db' && step.output) {
      add(step.id, `${at}.output`, `step '${step.id}': a db action's output is fixed; remove output`);
    }
    const policy = stepPolicy(def, step);
    if (durationToMs(policy.heartbeatTimeout) >= durationToMs(policy.timeout)) {
      add(
        step.id,
        `${at}.heartbeatTimeout`,
        `step '${step.id}': heartbeatTimeout (${policy.heartbeatTimeout}) must be shorter than timeout (${policy.timeout})`,
      );
    }
  }

  if (!steps.has(def.start)) return issues;

  // Reachability from the start step along every route.
  const reachable = new Set<string>();
  const stack = [def.start];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (reachable.has(id) || !steps.has(id)) continue;
    reachable.add(id);
    stack.push(...routeTargets(steps.get(id)!.next));
  }
  for (const step of steps.values()) {
    if (!reachable.has(step.id)) {
      const from = [...steps.values()].filter((s) => routeTargets(s.next).includes(step.id)).map((s) => s.id);
      const why = from.length === 0 ? 'no step routes to it' : `only unreachable steps route to it (${from.join(', ')})`;
      add(step.id, `definition.steps.${step.id}`, `step '${step.id}' is unreachable from start step '${def.start}': ${why}`);
    }
  }

  const order = topologicalOrder(def.start, steps, reachable);
  if (!order.ok) {
    add(
      order.cycle[0],
      `definition.steps.${order.cycle[0]}.next`,
      `steps form a cycle (${order.cycle.join(' -> ')}); conversation graphs must be acyclic so every item ends`,
    );
    return issues;
  }
  if (![...reachable].some((id) => steps.get(id)!.end)) {
    add(undefined, 'definition.steps', `no terminal step is reachable from '${def.start}' (mark the last step end: true)`);
  }

  // Which steps have certainly run before each step, whatever route the item took (dominators).
  const before = new Map<string, Set<string>>();
  for (const id of order.order) {
    const preds = order.order.filter((p) => routeTargets(steps.get(p)!.next).includes(id));
    if (id === def.start || preds.length === 0) {
      before.set(id, new Set());
      continue;
    }
    let acc: Set<string> | undefined;
    for (const p of preds) {
      const viaP = new Set([...before.get(p)!, p]);
      acc = acc === undefined ? viaP : new Set([...acc].filter((x) => viaP.has(x)));
    }
    before.set(id, acc!);
  }

  for (const step of steps.values()) {
    checkTemplates(def, step, steps, reachable.has(step.id) ? before.get(step.id) : undefined, add);
    if (step.actor?.kind === 'db' && step.actor.action === 'apply_decision' && reachable.has(step.id)) {
      const saver = [...(before.get(step.id) ?? [])].find((id) => {
        const a = steps.get(id)!.actor;
        return a?.kind === 'db' && a.action === 'save_decision';
      });
      if (!saver) {
        add(
          step.id,
          `definition.steps.${step.id}.actor`,
          `step '${step.id}' applies a decision, but no save_decision step always runs before it`,
        );
      }
    }
  }
  return issues;
}

type Add = (step: string | undefined, path: string, message: string) => void;

function checkRouteField(step: Step, add: Add) {
  const route = step.next;
  if (route === undefined || typeof route === 'string') return;
  const at = `definition.steps.${step.id}.next`;
  const fields = outputFields(step);
  const spec = fields[route.on];
  if (effectiveOutput(step).format === 'text' || spec === undefined) {
    add(
      step.id,
      at,
      `step '${step.id}' routes on '${route.on}', which its output does not declare (fields: ${Object.keys(fields).join(', ')})`,
    );
    return;
  }
  const type = fieldType(spec);
  if (!['string', 'boolean', 'integer'].includes(type)) {
    add(step.id, at, `step '${step.id}' routes on '${route.on}' of type ${type}; route on a string, boolean or integer field`);
  }
  const allowed = type === 'boolean' ? ['true', 'false'] : fieldEnum(spec);
  if (allowed) {
    for (const key of Object.keys(route.cases)) {
      if (!allowed.includes(key)) add(step.id, at, `step '${step.id}': case '${key}' can never match ${route.on} (${allowed.join(' | ')})`);
    }
    const uncovered = allowed.filter((v) => !(v in route.cases));
    if (uncovered.length > 0 && route.default === undefined) {
      add(step.id, at, `step '${step.id}': no route for ${route.on} = ${uncovered.map((u) => `'${u}'`).join(', ')} and no default`);
    }
  } else if (route.default === undefined) {
    add(step.id, at, `step '${step.id}' routes on free-form '${route.on}' without a default`);
  }
}

function actorTemplates(step: Step): Array<[string, string]> {
  const a = step.actor;
  if (!a) return [];
  if (a.kind === 'llm') {
    const out: Array<[string, string]> = [['actor.prompt', joinText(a.prompt)]];
    if (a.system !== undefined) out.push(['actor.system', joinText(a.system)]);
    return out;
  }
  if (a.kind === 'script') {
    return [
      ...a.args.map((t, i): [string, string] => [`actor.args[${i}]`, t]),
      ...Object.entries(a.input).map(([k, t]): [string, string] => [`actor.input.${k}`, t]),
    ];
  }
  return Object.entries(a.fields).map(([k, t]): [string, string] => [`actor.fields.${k}`, t]);
}

function checkTemplates(def: ConversationDefinition, step: Step, steps: Map<string, Step>, before: Set<string> | undefined, add: Add) {
  for (const [where, template] of actorTemplates(step)) {
    const at = `definition.steps.${step.id}.${where}`;
    for (const ref of templateRefs(template)) {
      const bad = (msg: string) => add(step.id, at, `step '${step.id}' template {{${ref.raw}}}: ${msg}`);
      if (ref.kind === 'invalid') {
        bad(ref.reason);
      } else if (ref.kind === 'item') {
        if (ref.field !== undefined && !def.item.fields.includes(ref.field))
          bad(`items have no field '${ref.field}' (item.fields: ${def.item.fields.join(', ')})`);
      } else {
        const source = steps.get(ref.step);
        if (!source) bad(`there is no step '${ref.step}'`);
        else if (ref.step === step.id) bad(`a step cannot use its own output`);
        else if (before && !before.has(ref.step))
          bad(`step '${ref.step}' has not always run before '${step.id}' (it is on some routes only, or later)`);
        else if (ref.field !== undefined && !(ref.field in outputFields(source))) {
          bad(`step '${ref.step}' output has no field '${ref.field}' (fields: ${Object.keys(outputFields(source)).join(', ')})`);
        }
      }
    }
  }
}

type Topo = { ok: true; order: string[] } | { ok: false; cycle: string[] };

/** Depth-first topological order of the reachable steps, or the first cycle found. */
function topologicalOrder(start: string, steps: Map<string, Step>, reachable: Set<string>): Topo {
  const state = new Map<string, 'visiting' | 'done'>();
  const post: string[] = [];
  const path: string[] = [];
  let cycle: string[] | undefined;
  const visit = (id: string): void => {
    if (cycle) return;
    const s = state.get(id);
    if (s === 'done') return;
    if (s === 'visiting') {
      cycle = [...path.slice(path.indexOf(id)), id];
      return;
    }
    state.set(id, 'visiting');
    path.push(id);
    for (const t of routeTargets(steps.get(id)!.next)) if (reachable.has(t)) visit(t);
    path.pop();
    state.set(id, 'done');
    post.push(id);
  };
  visit(start);
  return cycle ? { ok: false, cycle } : { ok: true, order: post.reverse() };
}
