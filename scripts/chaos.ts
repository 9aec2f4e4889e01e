import { runChaos } from './chaos/engine.js';
import { parseArgs, USAGE } from './chaos/options.js';
import { formatReport } from './chaos/report.js';

// npm run chaos -- --minutes 5 --pipelines 50 --inputs 200: pipelines under worker SIGKILLs and a
// server restart, plus generated malformed inputs; exits 0 only on the pass line.
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const report = await runChaos(parseArgs(argv));
console.log(formatReport(report));
process.exit(report.reasons.length ? 1 : 0);
