import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// `npm run test:cluster`: the suites that run a real multi-process Temporal cluster on
// PostgreSQL (test/cluster). Each file starts its own cluster, since its cases kill services.
export default defineConfig({
  test: {
    ...base.test,
    include: ['test/cluster/**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
