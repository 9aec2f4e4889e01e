import { runChaos } from './chaos/engine.js';
import { parseArgs } from './chaos/options.js';
import { formatReport } from './chaos/report.js';

// npm run chaos -- --minutes 5 --pipelines 50 --inputs 200: pipelines under worker SIGKILLs and a
// server restart, plus generated malformed inputs; exits 0 only on the pass line.
const report = await runChaos(parseArgs(process.argv.slice(2)));
console.log(formatReport(report));
process.exit(report.reasons.length ? 1 : 0);
