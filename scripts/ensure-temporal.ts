import { ensureTemporalCli } from './lib/temporal-cli.js';

const file = await ensureTemporalCli();
console.error(`Temporal CLI: ${file}`);
