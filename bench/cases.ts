import type { BenchContext } from './context.js';

export type BenchCase = (ctx: BenchContext) => Promise<void>;

/** Pipeline bench cases, run after the baseline: name (also a CLI filter) → lazy loader. */
export const CASES: [string, () => Promise<BenchCase>][] = [
  ['latency', async () => (await import('./latency.js')).benchLatency],
  ['conversation', async () => (await import('./conversation.js')).benchConversation],
  ['dashboard', async () => (await import('./dashboard.js')).benchDashboard],
  ['recovery', async () => (await import('./recovery.js')).benchRecovery],
  ['memory', async () => (await import('./memory.js')).benchMemory],
  // Starts its own dev server on a SQLite file (it restarts it) and worker processes.
  ['drain', async () => (await import('./drain.js')).benchDrain],
  ['sweep', async () => (await import('./sweep.js')).benchSweep],
  ['analysis', async () => (await import('./analysis.js')).benchAnalysis],
  // Starts its own multi-process cluster (needs the server build: npm run cluster builds it).
  ['scale', async () => (await import('./scale.js')).benchScale],
];
