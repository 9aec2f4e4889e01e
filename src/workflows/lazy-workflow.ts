/**
 * A workflow type whose pipeline module is evaluated when a workflow of that type starts, not
 * when any workflow starts.
 *
 * Why: the SDK evaluates the bundle's entry module, and everything it imports, for every new
 * workflow (and every replay after a cache eviction), and most of that cost is building the zod
 * schemas of all six pipelines (~30 ms here). Imported on demand (the bundle's dynamic imports
 * are eager: no chunk to load, the module is only evaluated later), a workflow builds only its
 * own pipeline's. The import resolves within the first activation and schedules nothing, so
 * histories are unchanged.
 */
export function lazyWorkflow<M, K extends keyof M & string>(load: () => Promise<M>, name: K): M[K] {
  const start = async (...args: unknown[]): Promise<unknown> => {
    const workflow = (await load())[name] as (...a: unknown[]) => Promise<unknown>;
    return workflow(...args);
  };
  // Clients that pass the function (client.workflow.start(conversationRun, ...)) take the
  // workflow type from its name.
  Object.defineProperty(start, 'name', { value: name });
  return start as M[K];
}
