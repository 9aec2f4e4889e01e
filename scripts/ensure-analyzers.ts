import { ensureAnalyzerTools } from './lib/analyzers.js';

// `npx tsx scripts/ensure-analyzers.ts`: the analyzers' tools present (nmap installed from Debian
// when missing; the npm tools checked). Explains on stderr, exit 1, what is missing otherwise.
try {
  await ensureAnalyzerTools();
  console.error('analyzers: eslint, eslint-plugin-security, autocannon and nmap present');
} catch (err) {
  console.error(`analyzers: ${(err as Error).message}`);
  process.exitCode = 1;
}
