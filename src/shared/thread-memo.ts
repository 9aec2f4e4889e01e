// Values every workflow of a worker thread can share, built by the first that needs them.
//
// Why: the SDK evaluates a workflow's modules again for every workflow it starts (and every replay
// after an eviction), so module-level zod schemas were built anew for each conversation run —
// ~3 ms of the run's workflow thread and most of its garbage. This module is one of the bundle's
// preloaded modules (src/workflows/shared-modules.ts imports it), so its map is the same for
// every workflow of the thread; outside workflows it is an ordinary module, evaluated once.
//
// Only what no workflow can change may go here: values built from constants, with no workflow
// state and nothing a caller mutates (zod schemas qualify; their lazily computed parts are pure
// caches). The SDK deep-freezes the preloaded modules' exports, not this map, which is not one.

const built = new Map<string, unknown>();

/** `build()`'s value, built at most once per worker thread (once per process outside workflows). */
export function oncePerThread<T>(key: string, build: () => T): T {
  if (!built.has(key)) built.set(key, build());
  return built.get(key) as T;
}
