import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { readDefinitionFile } from '../config/input-file.js';
import { loadEnv } from '../config/env.js';
import { EXIT, exitCodeForOutcome, outcomeOfWorkflow } from '../shared/exit-codes.js';
import { PipelineFailedError } from '../client/errors.js';
import type { PipelineAdapter } from './pipelines/adapter.js';
import { connected, emit, type CliGlobals } from './cli-context.js';
import { follow } from './watch-view.js';
import { stepTails } from './step-logs.js';

// `shepherd <pipeline> <verb>`: the verbs every pipeline has, built from its adapter.

/** The pipeline's progress, with its running steps' liveness when the adapter can add it. */
function progressOf(a: PipelineAdapter, client: Client, handle: ReturnType<PipelineAdapter['get']>): Promise<unknown> {
  return handle.progress().then((p) => (a.enrich ? a.enrich(client, handle, p).catch(() => p) : p));
}

async function finalOf(a: PipelineAdapter, handle: ReturnType<PipelineAdapter['get']>, json: boolean): Promise<number> {
  try {
    const result = await handle.result();
    emit(json, result, a.resultLines(result));
    return exitCodeForOutcome(a.outcome(result));
  } catch (err) {
    if (err instanceof PipelineFailedError) {
      emit(json, { workflowId: err.workflowId, status: err.status, error: err.message }, [err.message]);
      return err.status === 'failed' ? EXIT.failed : EXIT.cancelled;
    }
    throw err;
  }
}

export function registerPipeline(program: Command, a: PipelineAdapter, extra?: (cmd: Command) => void): Command {
  // A pipeline that already has a command group (conversations) keeps its verbs; the generic
  // ones are added beside them.
  const existing = program.commands.find((c) => c.name() === a.name);
  const group =
    existing ?? program.command(a.name).description(`${a.name}: ${plural(a.noun)}; validate, run, status, watch, cancel, results, logs`);
  const taken = new Set(group.commands.map((c) => c.name()));
  const spare = group.command('__spare__');
  const cmd = {
    command: (name: string) => (taken.has(name) ? spare.command(name) : group.command(name)),
  } as unknown as Command;

  cmd
    .command('validate')
    .description(`validate a ${a.noun} input file (JSON or YAML) without starting it`)
    .argument('<file>')
    .option('--json', 'machine-readable output')
    .action((file: string, o: { json?: boolean }) => {
      const v = a.validate(readDefinitionFile(file));
      emit(Boolean(o.json), { file, valid: true, id: v.id }, [`${file}: valid (${v.summary})`]);
    });

  cmd
    .command('run')
    .description(`start a ${a.noun} and follow it to the end (exit code = outcome)`)
    .argument('<file>')
    .option('-d, --detach', 'start, print the workflow ID and return')
    .option('--json', 'print the final result as JSON')
    .action(async (file: string, o: { detach?: boolean; json?: boolean }, c: Command) => {
      const v = a.validate(readDefinitionFile(file));
      process.exitCode = await connected(c, async (client, g: CliGlobals) => {
        const handle = await a.start(client, v.input, g.taskQueue);
        if (o.detach || !o.json) emit(Boolean(o.json), { workflowId: handle.workflowId }, [`started ${handle.workflowId}`]);
        if (o.detach) return EXIT.ok;
        if (!o.json)
          await follow(
            { poll: () => progressOf(a, client, handle), counts: a.counts, lines: a.progressLines },
            handle.result().catch(() => undefined),
            process.stderr,
          );
        return finalOf(a, handle, Boolean(o.json));
      });
    });

  cmd
    .command('status')
    .description(`show a ${a.noun}'s state (exit code = outcome once closed)`)
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }, c: Command) => {
      process.exitCode = await connected(c, async (client) => {
        const handle = a.get(client, id);
        const d = await handle.describe();
        const outcome = outcomeOfWorkflow(d.status, d.stage);
        const progress = await progressOf(a, client, handle).catch(() => undefined);
        emit(Boolean(o.json), { ...d, outcome, progress }, [
          `${d.workflowId}: ${d.status}${d.stage ? ` (Stage ${d.stage})` : ''}`,
          ...(progress ? a.progressLines(progress, d.closeTime?.getTime() ?? Date.now()) : []),
        ]);
        return outcome === 'running' ? EXIT.ok : exitCodeForOutcome(outcome);
      });
    });

  cmd
    .command('watch')
    .description(`follow a running ${a.noun} until it ends (exit code = outcome)`)
    .argument('<id>')
    .option('--json', 'print the final result as JSON')
    .action(async (id: string, o: { json?: boolean }, c: Command) => {
      process.exitCode = await connected(c, async (client) => {
        const handle = a.get(client, id);
        await handle.describe();
        if (!o.json)
          await follow(
            { poll: () => progressOf(a, client, handle), counts: a.counts, lines: a.progressLines },
            handle.result().catch(() => undefined),
          );
        return finalOf(a, handle, Boolean(o.json));
      });
    });

  cmd
    .command('cancel')
    .description(`cancel a ${a.noun}: running steps are killed, bookkeeping still runs`)
    .argument('<id>')
    .action(async (id: string, _o: unknown, c: Command) => {
      process.exitCode = await connected(c, async (client) => {
        const handle = a.get(client, id);
        await handle.cancel();
        console.log(`cancellation requested for ${handle.workflowId}`);
        return EXIT.ok;
      });
    });

  cmd
    .command('results')
    .alias('export')
    .description(`print a closed ${a.noun}'s result (exit code = outcome)`)
    .argument('<id>')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: { json?: boolean }, c: Command) => {
      process.exitCode = await connected(c, async (client) => {
        const handle = a.get(client, id);
        const d = await handle.describe();
        if (d.status === 'RUNNING') {
          emit(Boolean(o.json), { workflowId: d.workflowId, status: d.status }, [
            `${d.workflowId} is still running; watch it with: shepherd ${a.name} watch ${id}`,
          ]);
          return EXIT.running;
        }
        return finalOf(a, handle, Boolean(o.json));
      });
    });

  cmd
    .command('logs')
    .description("a step's stdout/stderr tail, from the worker's workspaces (SHEPHERD_DATA_DIR)")
    .argument('<workflowId>', 'the workflow that ran the step (e.g. experiment-<batch>-<name>)')
    .argument('[step]', 'activity ID (default: every step of the workflow)')
    .option('-n, --lines <n>', 'lines from the end', '20')
    .option('--run <runId>', 'the workflow run (default: the newest run with workspaces)')
    .option('--json', 'machine-readable output')
    .action((workflowId: string, step: string | undefined, o: { lines: string; run?: string; json?: boolean }) => {
      const tails = stepTails(loadEnv().runsDir, workflowId, { step, runId: o.run, lines: Number(o.lines) || 20 });
      if (tails.length === 0) {
        const what = `${workflowId}${o.run ? ` run ${o.run}` : ''}${step ? ` step ${step}` : ''}`;
        console.error(`no step workspaces for ${what} under ${loadEnv().runsDir}`);
        process.exitCode = EXIT.notFound;
        return;
      }
      emit(
        Boolean(o.json),
        tails,
        tails.flatMap((t) => [
          `== ${t.step} attempt ${t.attempt}${t.runId ? ` (run ${t.runId})` : ''} ==`,
          '-- stdout --',
          ...t.stdout,
          '-- stderr --',
          ...t.stderr,
        ]),
      );
    });

  extra?.(group);
  // Verbs a pipeline already had were built on a detached parent and are dropped with it.
  (group as unknown as { commands: Command[] }).commands = group.commands.filter((c) => c !== spare);
  return group;
}

/** 'batch' → 'batches', 'job' → 'jobs', 'queue' → 'queues'. */
const plural = (noun: string) => (/(ch|sh|s|x)$/.test(noun) ? `${noun}es` : `${noun}s`);
