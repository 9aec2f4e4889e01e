import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The multi-process cluster suites need the Temporal server build: `npm run test:cluster`.
    exclude: ['test/cluster/**', 'node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    // Suites start real workers and subprocesses; on a 2-core machine running files one at a
    // time keeps them from starving each other's heartbeats.
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
});
