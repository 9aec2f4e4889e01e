import { Command } from 'commander';
import { registerExperimentCommands } from './commands/experiments.js';
import { registerConversationCommands } from './commands/conversations.js';
import { registerDashboardCommand } from './commands/dashboard.js';

const program = new Command()
  .name('shepherd')
  .description('Run long, failure-prone pipelines as durable Temporal workflows')
  .option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS or temporal.toml profile)')
  .option('--namespace <ns>', 'Temporal namespace (default: TEMPORAL_NAMESPACE or "default")')
  .option('--task-queue <name>', 'task queue', process.env.SHEPHERD_TASK_QUEUE ?? 'shepherd')
  .showHelpAfterError();

registerExperimentCommands(program);
registerConversationCommands(program);
registerDashboardCommand(program);

try {
  await program.parseAsync();
} catch (err) {
  console.error(`shepherd: ${(err as Error).message}`);
  process.exitCode = 1;
}
