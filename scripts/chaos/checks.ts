import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import pg from 'pg';
import { dockerClient } from '../../src/activities/containers/client.js';
import { processesInside, markedProcesses } from '../../test/support/procs.js';
import type { MalformedInput } from './inputs.js';

// What the pass line is made of, each measured from the real system: Temporal histories,
// PostgreSQL's result tables, /proc.

export async function workflowTaskFailures(handle: WorkflowHandle): Promise<string[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events.filter((e) => e.workflowTaskFailedEventAttributes).map((e) => e.workflowTaskFailedEventAttributes?.failure?.message ?? '?');
}

// Logical keys per result table: a second row for one of these is a duplicate.
const DUPLICATE_QUERIES: Record<string, string> = {
  experiment_results:
    "SELECT batch_id || '/' || experiment AS key FROM experiment_results GROUP BY batch_id, experiment HAVING count(*) > 1",
  simulation_replicates:
    "SELECT job_id || '/' || parameter_key || '/' || replicate AS key FROM simulation_replicates GROUP BY job_id, parameter_key, replicate HAVING count(*) > 1",
  conversation_attempts:
    "SELECT run_id || '/' || step || '/' || attempt AS key FROM conversation_attempts GROUP BY run_id, step, attempt HAVING count(*) > 1",
  training_jobs: 'SELECT instance AS key FROM training_jobs GROUP BY instance HAVING count(*) > 1',
  analysis_findings:
    "SELECT concat_ws('/', pipeline_id, model, app, analyzer, rule, location) AS key FROM analysis_findings GROUP BY pipeline_id, model, app, analyzer, rule, location HAVING count(*) > 1",
};

export async function duplicateRows(databaseUrl: string): Promise<Record<string, string[]>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const out: Record<string, string[]> = {};
    for (const [table, sql] of Object.entries(DUPLICATE_QUERIES))
      out[table] = (await client.query<{ key: string }>(sql)).rows.map((r) => r.key);
    return out;
  } finally {
    await client.end();
  }
}

/**
 * Processes left once every worker is gone: workers by the run's marker (which steps do not
 * inherit: a step sees only a minimal env), steps and their children by their working directory,
 * a workspace under the run's data directory.
 */
export function strayProcesses(marker: string, dataDir: string): number[] {
  return [...new Set([...markedProcesses('SHEPHERD_CHAOS_MARKER', marker), ...processesInside(dataDir)])].sort((a, b) => a - b);
}

export interface InputOutcome extends MalformedInput {
  ok: boolean;
  problem?: string;
}

/** Starts one malformed input and checks it failed fast, non-retryably, naming its field. */
export async function checkMalformed(
  client: Client,
  taskQueue: string,
  m: MalformedInput,
  workflowId: string,
  waitMs: number,
): Promise<InputOutcome> {
  const handle = await client.workflow.start(m.type, { taskQueue, workflowId, args: m.input === null ? [] : [m.input] });
  const outcome = await Promise.race([
    handle.result().then(
      () => 'completed',
      (e: unknown) => e,
    ),
    new Promise((r) => setTimeout(() => r('still running'), waitMs)),
  ]);
  const loops = await workflowTaskFailures(handle);
  if (outcome === 'still running') await handle.terminate('chaos: malformed input did not fail fast').catch(() => undefined);
  const fail = (problem: string): InputOutcome => ({ ...m, ok: false, problem });
  if (loops.length) return fail(`workflow-task failure: ${loops[0]}`);
  if (outcome === 'still running') {
    // Tell a workflow that never got a task (server restart, killed worker) from one that did.
    const events = (await handle.fetchHistory()).events ?? [];
    const tasks = events.filter((e) => e.workflowTaskStartedEventAttributes).length;
    const timeouts = events.filter((e) => e.workflowTaskTimedOutEventAttributes).length;
    return fail(`did not fail within ${waitMs / 1000} s (${events.length} events, ${tasks} workflow tasks started, ${timeouts} timed out)`);
  }
  if (!(outcome instanceof WorkflowFailedError)) return fail(`did not fail (${String(outcome)})`);
  const cause = outcome.cause as { message?: string; nonRetryable?: boolean } | undefined;
  if (!cause?.nonRetryable) return fail(`retryable failure: ${cause?.message}`);
  if (!cause.message?.includes(m.field)) return fail(`message does not name ${m.field}: ${cause.message?.slice(0, 200)}`);
  return { ...m, ok: true };
}

/**
 * Containers labelled by Shepherd (shepherd.workflow) for one of this run's workflows (their IDs
 * hold chaos-<tag> or, for analysis pipelines, chaos_<tag>). Returns undefined when no container
 * runtime answers (DOCKER_HOST, else Shepherd's podman socket): nothing of ours can exist there.
 */
export async function strayContainers(tag: string): Promise<string[] | undefined> {
  const docker = dockerClient();
  try {
    const list = await docker.listContainers({ all: true, filters: { label: ['shepherd.workflow'] } });
    return list
      .filter((c) => [`chaos-${tag}`, `chaos_${tag}`].some((t) => (c.Labels['shepherd.workflow'] ?? '').includes(t)))
      .map((c) => `${c.Id.slice(0, 12)} ${c.Labels['shepherd.workflow']}`);
  } catch {
    return undefined;
  }
}
