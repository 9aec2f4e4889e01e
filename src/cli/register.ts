import { readFileSync } from 'node:fs';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import { AlreadyRunningError, InvalidInputError, NotFoundError, PipelineFailedError, ServerUnreachableError } from '../client/errors.js';
import { EXIT } from '../shared/exit-codes.js';
import { registerPipeline } from './pipeline-commands.js';
import { conversationsCli } from './pipelines/conversations.js';
import { experimentsCli } from './pipelines/experiments.js';
import { registerExperimentVerbs } from './pipelines/experiments-recommend.js';
import { registerSimulationVerbs } from './pipelines/simulation-recommend.js';
import { simulationCli } from './pipelines/simulation.js';
import { registerTrainingVerbs, trainingCli } from './pipelines/training.js';
import { registerTrainingRecommend } from './pipelines/training-recommend.js';

/** `shepherd <pipeline> <verb>` for every pipeline, plus --version and `completion`. */
export function registerPipelines(program: Command): void {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  program.version(pkg.version, '-V, --version');
  registerPipeline(program, experimentsCli, registerExperimentVerbs);
  registerPipeline(program, simulationCli, registerSimulationVerbs);
  registerPipeline(program, trainingCli, (cmd) => {
    registerTrainingVerbs(cmd);
    registerTrainingRecommend(cmd);
  });
  registerPipeline(program, conversationsCli);
  program
    .command('completion')
    .description('print a bash/zsh completion script: eval "$(shepherd completion)"')
    .action(() => {
      process.stdout.write(completionScript(program));
    });
}

/** The exit code and one-line message for an error escaping a command (see README, exit codes). */
export function exitFor(err: unknown): { code: number; message: string } {
  const message = (err as Error)?.message ?? String(err);
  if (err instanceof ServerUnreachableError) return { code: EXIT.unreachable, message };
  if (err instanceof NotFoundError || err instanceof WorkflowNotFoundError) return { code: EXIT.notFound, message };
  if (err instanceof InvalidInputError || err instanceof AlreadyRunningError) return { code: EXIT.badInput, message };
  if (err instanceof PipelineFailedError) return { code: err.status === 'failed' ? EXIT.failed : EXIT.cancelled, message };
  if ((err as NodeJS.ErrnoException)?.code === 'ENOENT' || /^invalid |: expected|is not valid (JSON|YAML)/i.test(message))
    return { code: EXIT.badInput, message };
  return { code: EXIT.internal, message };
}

function completionScript(program: Command): string {
  const cases = program.commands
    .map((c) => `    ${c.name()}) COMPREPLY=( $(compgen -W "${c.commands.map((s) => s.name()).join(' ')}" -- "$cur") ) ;;`)
    .join('\n');
  return `# shepherd completion (bash; zsh with bashcompinit)
_shepherd() {
  local cur=\${COMP_WORDS[COMP_CWORD]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${program.commands.map((c) => c.name()).join(' ')} --help --version" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
}
complete -F _shepherd shepherd
`;
}
