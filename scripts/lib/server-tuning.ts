/**
 * Server settings that take a step's dispatch latency on Shepherd's own servers (the embedded dev
 * server, `npm run cluster`, the compose file) from ~45 ms to a few ms. Neither touches
 * durability: every task is persisted before it is dispatched, exactly as with the defaults.
 *
 * Measured with `npm run bench` (latency case): a bare SDK sequential no-op step takes ~100 ms on
 * the untuned dev server, in a 50 ms grid, because of the first setting alone.
 */
export const LOW_LATENCY_DYNAMIC_CONFIG = {
  // A history shard reads its transfer tasks (the workflow and activity tasks bound for matching)
  // at most 20 times a second by default. With one shard (the dev server) every dispatch after the
  // rate limiter's initial burst waits for the next 50 ms slot. The cost of a higher limit: more
  // frequent small reads of the task table while tasks keep arriving.
  'history.transferProcessorMaxPollRPS': 1000,
  // An activity scheduled by a workflow task comes back in that task's completion response to the
  // worker that completed it, instead of a second trip through matching. The trade: such an
  // activity runs on that worker rather than on whichever worker polls first (the SDK reserves at
  // most 3 per workflow task, only when it has free slots). Heartbeats, timeouts, retries and
  // cancellation are the same as for a dispatched activity.
  'system.enableActivityEagerExecution': true,
} as const satisfies Record<string, string | number | boolean>;
