import { ensureTemporalServer } from './lib/cluster/server-build.js';
import { ensureTemporalCli } from './lib/temporal-cli.js';

const file = await ensureTemporalCli();
console.error(`Temporal CLI: ${file}`);
// --server: also the multi-process server and its schema tool (npm run cluster / test:cluster).
if (process.argv.includes('--server')) {
  const tools = await ensureTemporalServer();
  console.error(`Temporal server: ${tools.server}`);
}
