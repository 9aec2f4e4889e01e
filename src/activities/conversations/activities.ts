import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ApplicationFailure } from '@temporalio/activity';
import type { DbActor, Item, ItemSource } from '../../shared/conversations/schemas.js';
import { parseDefinitionText } from '../../config/input-file.js';
import { loadModelRegistry, type ModelRegistry } from '../../config/models.js';
import { createAuditActivities } from './audit.js';
import { createCommandActivities } from '../step/command.js';
import type { ActivityDeps } from '../deps.js';
import { resolveInsideProject } from '../step/project-paths.js';
import { createLlmActivities } from './llm.js';
import { createLocalModelCall } from './local-call.js';
import { createMetricsActivities } from './metrics.js';
import { knownModels } from '../../db/model-slots.js';
import { classifySourceError } from './sql-errors.js';

// Activities of the conversationRun / conversationBatch workflows, other than the model call
// (llm.ts) and the audit row (audit.ts): definition and item sources, the script and db actors,
// the model check. Everything is idempotent under retries.

export interface ReadItemsInput {
  source: ItemSource;
  /** Opaque position from the previous page; null for the first. */
  cursor: string | null;
  limit: number;
}

export interface ReadItemsResult {
  items: Item[];
  /** Lines or rows that could not be read as items; each fails on its own, visibly. */
  invalid: { position: string; error: string }[];
  nextCursor: string | null;
}

export interface ScriptActorInput {
  command: string;
  args: string[];
  input: Record<string, string>;
  nonRetryableExitCodes: number[];
}

export interface DbActionInput {
  action: DbActor['action'];
  definition: string;
  itemKey: string;
  workflowId: string;
  runId: string;
  step: string;
  fields: Record<string, string>;
}

export interface ConversationActivityOptions {
  /** Model registry; default from SHEPHERD_MODELS / SHEPHERD_MODELS_FILE. */
  registry?: ModelRegistry;
}

async function readJsonl(file: string, cursor: string | null, limit: number): Promise<ReadItemsResult> {
  const skip = cursor === null ? 0 : Number(cursor);
  const items: Item[] = [];
  const invalid: ReadItemsResult['invalid'] = [];
  let lineNo = 0;
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      lineNo++;
      if (lineNo <= skip) continue;
      if (items.length + invalid.length >= limit) {
        lineNo--;
        break;
      }
      if (!line.trim()) continue;
      try {
        const v = JSON.parse(line) as unknown;
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
        items.push(v as Item);
      } catch (err) {
        invalid.push({ position: `line ${lineNo}`, error: (err as Error).message });
      }
    }
  } finally {
    rl.close();
  }
  return { items, invalid, nextCursor: String(lineNo) };
}

async function readSql(
  deps: ActivityDeps,
  query: string,
  keyColumn: string,
  cursor: string | null,
  limit: number,
): Promise<ReadItemsResult> {
  const inner = query.trim().replace(/;\s*$/, '');
  const key = `"${keyColumn}"`;
  const client = await deps.pool.connect();
  try {
    // READ ONLY: a source query is for reading items, never for changing anything.
    await client.query('BEGIN READ ONLY');
    await client.query("SET LOCAL statement_timeout = '60s'");
    const sql =
      cursor === null
        ? `SELECT * FROM (${inner}) AS src ORDER BY src.${key} LIMIT $1`
        : `SELECT * FROM (${inner}) AS src WHERE src.${key} > $2 ORDER BY src.${key} LIMIT $1`;
    const res = await client.query(sql, cursor === null ? [limit] : [limit, cursor]);
    await client.query('COMMIT');
    const items = JSON.parse(JSON.stringify(res.rows)) as Item[];
    const last = res.rows.at(-1)?.[keyColumn];
    return { items, invalid: [], nextCursor: last === undefined ? cursor : String(last instanceof Date ? last.toISOString() : last) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    // Syntax errors, unknown tables/columns, unsupported constructs, write attempts: the query is wrong, not the database.
    throw classifySourceError(err, keyColumn);
  } finally {
    client.release();
  }
}

export function createConversationActivities(deps: ActivityDeps, opts: ConversationActivityOptions = {}) {
  const registry = opts.registry ?? loadModelRegistry();
  const projectDir = path.resolve(deps.projectDir ?? process.cwd());
  const { runCommand } = createCommandActivities(deps);
  const checkModels = async (models: string[]) => {
    const known = new Set([...(await knownModels(deps.pool)), ...Object.keys(registry.models)]);
    return { unknown: models.filter((m) => !known.has(m)), known: [...known].sort() };
  };

  return {
    ...createLlmActivities(registry, deps.logger, deps.pool),
    ...createLocalModelCall(deps, checkModels),
    ...createAuditActivities(deps),
    ...createMetricsActivities(deps),

    /** A definition file (JSON or YAML, relative to the project) as raw data; the workflow validates it. */
    async loadConversationDefinition({ path: rel }: { path: string }): Promise<unknown> {
      const file = resolveInsideProject(projectDir, rel, 'definitionFile');
      try {
        return parseDefinitionText(await readFile(file, 'utf8'), rel);
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`definitionFile: ${(err as Error).message}`, 'InvalidInput');
      }
    },

    /** The next page of items from a JSONL file, a read-only SQL query, or an inline list. */
    async readConversationItems({ source, cursor, limit }: ReadItemsInput): Promise<ReadItemsResult> {
      if (source.kind === 'jsonl') return readJsonl(resolveInsideProject(projectDir, source.path, 'source.path'), cursor, limit);
      if (source.kind === 'sql') return readSql(deps, source.query, source.keyColumn, cursor, limit);
      const start = cursor === null ? 0 : Number(cursor);
      const items = source.items.slice(start, start + limit);
      return { items, invalid: [], nextCursor: String(start + items.length) };
    },

    /** Which of these models no worker has announced (nor this worker's registry knows). */
    checkConversationModels: ({ models }: { models: string[] }) => checkModels(models),

    /** A script actor: runCommand with the rendered input in $SHEPHERD_INPUT_FILE; `{project}` in args is the project root. */
    async runConversationScript(input: ScriptActorInput): Promise<{ result: unknown; durationMs: number }> {
      const sub = (s: string) => s.replaceAll('{project}', projectDir);
      const run = await runCommand({
        command: sub(input.command),
        args: input.args.map(sub),
        files: [{ path: 'input.json', content: JSON.stringify(input.input) }],
        env: { SHEPHERD_INPUT_FILE: 'input.json' },
        nonRetryableExitCodes: input.nonRetryableExitCodes,
        resultRequired: true,
      });
      return { result: run.result, durationMs: run.durationMs };
    },

    /**
     * save_decision: one decision row per (run, step); a retry returns the same id.
     * apply_decision: this run's latest decision becomes the item's assignment unless a newer
     * decision (higher id, i.e. a later run) is already applied.
     */
    async conversationDbAction(input: DbActionInput): Promise<Record<string, unknown>> {
      if (input.action === 'save_decision') {
        await deps.pool.query(
          `INSERT INTO conversation_decisions (definition, item_key, workflow_id, run_id, step, decision)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT ON CONSTRAINT conversation_decisions_run_step_key DO NOTHING`,
          [input.definition, input.itemKey, input.workflowId, input.runId, input.step, JSON.stringify(input.fields)],
        );
        const r = await deps.pool.query<{ id: string }>('SELECT id FROM conversation_decisions WHERE run_id = $1 AND step = $2', [
          input.runId,
          input.step,
        ]);
        return { decisionId: Number(r.rows[0]!.id) };
      }
      const d = await deps.pool.query<{ id: string; decision: unknown }>(
        'SELECT id, decision FROM conversation_decisions WHERE run_id = $1 ORDER BY id DESC LIMIT 1',
        [input.runId],
      );
      if (d.rows.length === 0) {
        throw ApplicationFailure.nonRetryable(`step '${input.step}': no decision was saved in this run to apply`, 'NoDecision');
      }
      const decisionId = d.rows[0]!.id;
      await deps.pool.query(
        `INSERT INTO conversation_assignments (definition, item_key, decision_id, decision) VALUES ($1, $2, $3, $4)
         ON CONFLICT (definition, item_key) DO UPDATE SET decision_id = EXCLUDED.decision_id, decision = EXCLUDED.decision, applied_at = now()
         WHERE conversation_assignments.decision_id < EXCLUDED.decision_id`,
        [input.definition, input.itemKey, decisionId, JSON.stringify(d.rows[0]!.decision)],
      );
      const current = await deps.pool.query<{ decision_id: string }>(
        'SELECT decision_id FROM conversation_assignments WHERE definition = $1 AND item_key = $2',
        [input.definition, input.itemKey],
      );
      return { applied: current.rows[0]?.decision_id === decisionId, decisionId: Number(decisionId) };
    },
  };
}
