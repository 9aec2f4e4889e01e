// The worker process's memory settings. Both must be in place when the process starts (a V8
// heap's limits are fixed when the heap is created; glibc reads its arena limit at start-up), so
// the launch commands carry them: `npm run worker`, `npm start` (its worker runs in-process), the
// container image's CMD, and spawnWorkerProcess (the tests', benches' and chaos runs' worker
// processes). test/worker-memory-settings.test.ts keeps those in step with this file.
//
// Measured with `npm run bench -- memory` (1,000 open pipelines, SHEPHERD_MAX_CACHED_WORKFLOWS=10,
// worker + step spawner): 423 MiB with Node's defaults, 293 with the arena limit alone, 300 with
// the small young generation alone, 238 with both.
// - `--max-semi-space-size=2`: each V8 heap (the main thread's and every workflow thread's) grows
//   its young generation to three 16 MiB semi-spaces by default, and keeps them. A worker
//   allocates little that lives long, so 2 MiB only means more, shorter scavenges.
// - `MALLOC_ARENA_MAX=2`: glibc gives every thread that allocates (the SDK core's Tokio threads,
//   libuv's pool, V8's helpers) an arena of its own, up to 8 per core, each keeping its freed
//   pages; two arenas are plenty for a process whose work is I/O.

export const WORKER_NODE_FLAGS = ['--max-semi-space-size=2'] as const;
export const WORKER_ENV = { MALLOC_ARENA_MAX: '2' } as const;

/**
 * The settings this process started without, for a warning: an operator's own value for either
 * counts as set (`--max-semi-space-size` in the arguments or NODE_OPTIONS; MALLOC_ARENA_MAX, or
 * glibc's arena_max tunable).
 */
export function missingMemorySettings(execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): string[] {
  const args = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  const missing: string[] = [];
  if (!args.some((a) => /^--max[-_]semi[-_]space[-_]size(=|$)/.test(a))) missing.push(WORKER_NODE_FLAGS[0]);
  if (!env.MALLOC_ARENA_MAX && !/glibc\.malloc\.arena_max=/.test(env.GLIBC_TUNABLES ?? ''))
    missing.push(`MALLOC_ARENA_MAX=${WORKER_ENV.MALLOC_ARENA_MAX}`);
  return missing;
}
