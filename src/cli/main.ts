#!/usr/bin/env node
import { Command } from 'commander';
import { registerExperimentCommands } from './commands/experiments.js';
import { registerConversationCommands } from './commands/conversations.js';
import { registerAnalysisCommands } from './commands/analysis.js';
import { exitFor, registerPipelines } from './register.js';
import { registerDashboardCommand } from './commands/dashboard.js';
import { registerWorkspaceCommands } from './commands/workspaces.js';
import { registerCodecServerCommand } from './commands/codec-server.js';

const program = new Command()
  .name('shepherd')
  .description('Run long, failure-prone pipelines as durable Temporal workflows')
  .option('--address <host:port>', 'Temporal frontend (default: TEMPORAL_ADDRESS or temporal.toml profile)')
  .option('--namespace <ns>', 'Temporal namespace (default: TEMPORAL_NAMESPACE or "default")')
  .option('--task-queue <name>', 'task queue', process.env.SHEPHERD_TASK_QUEUE ?? 'shepherd')
  .showHelpAfterError();

registerExperimentCommands(program);
registerConversationCommands(program);
registerAnalysisCommands(program);
// `shepherd <pipeline> <verb>`; the top-level experiment verbs above are deprecated aliases.
registerPipelines(program);
for (const c of program.commands)
  if (['validate', 'run', 'status', 'watch', 'cancel', 'export'].includes(c.name()))
    c.description(`(deprecated: use "shepherd experiments ${c.name()}") ${c.description()}`);
registerDashboardCommand(program);
registerWorkspaceCommands(program);
registerCodecServerCommand(program);

try {
  await program.parseAsync();
} catch (err) {
  const { code, message } = exitFor(err);
  console.error(`shepherd: ${message}`);
  process.exitCode = code;
}
