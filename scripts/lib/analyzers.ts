import { findAutocannon, findEslint, findNmap, isProblem } from '../../src/activities/analysis/tools.js';
import { ensureDebianPackages } from './containers/install.js';

// The analyzers' tools, installed by the project's own set-up: nmap (with its NSE HTTP scripts)
// from Debian; ESLint, eslint-plugin-security and autocannon are npm dependencies and only
// checked here. Idempotent; throws with exactly what is missing and how to get it.

export const ANALYZER_PACKAGES = ['nmap'];

export async function ensureAnalyzerTools(log: (m: string) => void = (m) => console.error(m)): Promise<void> {
  if (isProblem(findNmap())) await ensureDebianPackages(ANALYZER_PACKAGES, log);
  const problems = [findNmap(), findEslint(), findAutocannon()].filter(isProblem).map((p) => `${p.tool}: ${p.problem}`);
  if (problems.length > 0) throw new Error(`analyzer tools missing:\n  ${problems.join('\n  ')}`);
}
