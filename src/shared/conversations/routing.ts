import type { Route, Step } from './schemas.js';

/** Every step a route can lead to. */
export function routeTargets(route: Route | undefined): string[] {
  if (route === undefined) return [];
  if (typeof route === 'string') return [route];
  const targets = Object.values(route.cases);
  if (route.default !== undefined) targets.push(route.default);
  return [...new Set(targets)];
}

export class RoutingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoutingError';
  }
}

/**
 * The step after `step` given its output, or null when `step` is terminal. A value that matches
 * no case and has no default is an error (statically impossible for enum fields; the validator
 * demands a default otherwise).
 */
export function nextStep(step: Step, output: unknown): string | null {
  const route = step.next;
  if (route === undefined) return null;
  if (typeof route === 'string') return route;
  const value = output && typeof output === 'object' ? (output as Record<string, unknown>)[route.on] : undefined;
  const key = typeof value === 'string' ? value : value === undefined || value === null ? undefined : JSON.stringify(value);
  if (key !== undefined && Object.prototype.hasOwnProperty.call(route.cases, key)) return route.cases[key]!;
  if (route.default !== undefined) return route.default;
  throw new RoutingError(
    `step '${step.id}': output field '${route.on}' = ${JSON.stringify(value)} matches no route and there is no default`,
  );
}
