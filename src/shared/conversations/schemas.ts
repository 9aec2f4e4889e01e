import { z } from 'zod';
import { durationSchema, idSchema, relativePathSchema, retrySchema } from '../schemas.js';
import { oncePerThread } from '../thread-memo.js';

// A conversation workflow is data: steps, each with an actor, a timeout, a retry policy and a route.
// Pure zod, no Node built-ins: the conversationRun workflow parses definitions with it.
//
// Wiring mistakes (a step without an actor, a route to nowhere, an unreachable step) are NOT schema
// errors: the schema accepts them so that src/shared/conversations/definition-validator.ts can report them by
// step name, which is what the seed's unwired 'save' and 'apply' steps needed.

export const DB_ACTIONS = ['save_decision', 'apply_decision'] as const;

// Built once per workflow thread, not per workflow (see thread-memo.ts). Object defaults are
// functions: zod copies a default value only shallowly, and these schemas serve every workflow.
const schemas = oncePerThread('shared/conversations/schemas', () => {
  const stepIdSchema = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'step ids are lower_snake_case, starting with a letter');
  const fieldNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'field names are identifiers (letters, digits, "_")');
  /** Prompts are long; an array of lines is joined with "\n" so JSON files stay readable. */
  const textSchema = z.union([z.string().min(1), z.array(z.string()).min(1)]);

  const fieldSpecSchema = z.union([
    z.enum(['string', 'number', 'integer', 'boolean', 'object', 'array']),
    z
      .object({
        type: z.enum(['string', 'number', 'integer', 'boolean', 'object', 'array']),
        /** Allowed values; routing on an enum field is checked for coverage statically. */
        enum: z.array(z.string()).min(1).optional(),
        optional: z.boolean().optional(),
        description: z.string().optional(),
      })
      .strict(),
  ]);

  const outputSpecSchema = z.discriminatedUnion('format', [
    z.object({ format: z.literal('text') }).strict(),
    z
      .object({
        format: z.literal('json'),
        fields: z.record(fieldNameSchema, fieldSpecSchema).refine((f) => Object.keys(f).length > 0, 'declare at least one field'),
      })
      .strict(),
  ]);

  const llmActorSchema = z
    .object({
      kind: z.literal('llm'),
      /** A model name from the worker's model registry (SHEPHERD_MODELS_FILE), e.g. "qwen2.5:7b". */
      model: z.string().min(1).max(200),
      system: textSchema.optional(),
      prompt: textSchema,
      temperature: z.number().min(0).max(2).optional(),
      /** Upper bound on generated tokens, passed to the model server. */
      maxTokens: z.number().int().positive().optional(),
    })
    .strict();

  const scriptActorSchema = z
    .object({
      kind: z.literal('script'),
      /** Program and argv, never a shell string; args may contain templates. Run through runCommand. */
      command: z.string().min(1),
      args: z.array(z.string()).default([]),
      /** Template map rendered into the JSON the script reads from $SHEPHERD_INPUT_FILE. */
      input: z.record(fieldNameSchema, z.string()).default({}),
      /** Exit codes meaning "bad input": retrying will not help. */
      nonRetryableExitCodes: z.array(z.number().int().min(1).max(255)).default([2]),
    })
    .strict();

  const dbActorSchema = z
    .object({
      kind: z.literal('db'),
      /**
       * save_decision: record the rendered `fields` as this item's decision (append-only, one per run).
       * apply_decision: make this run's saved decision the item's current assignment; an older run's
       * late apply can never replace a newer one.
       */
      action: z.enum(DB_ACTIONS),
      fields: z.record(fieldNameSchema, z.string()).default({}),
    })
    .strict();

  const actorSchema = z.discriminatedUnion('kind', [llmActorSchema, scriptActorSchema, dbActorSchema]);

  /** The shared retry policy, with fewer attempts allowed: each attempt is an audited model call. */
  const stepRetrySchema = retrySchema.extend({ maximumAttempts: z.number().int().min(1).max(50).default(3) });

  const routeSchema = z.union([
    stepIdSchema,
    z
      .object({
        /** Output field whose value picks the next step. */
        on: fieldNameSchema,
        cases: z.record(z.string(), stepIdSchema),
        default: stepIdSchema.optional(),
      })
      .strict(),
  ]);

  const stepSchema = z
    .object({
      id: stepIdSchema,
      description: z.string().max(500).optional(),
      actor: actorSchema.optional(),
      /** Default: text for llm actors, json {decisionId} for save_decision, {applied} for apply_decision. */
      output: outputSpecSchema.optional(),
      /** Start-to-close per attempt. */
      timeout: durationSchema.optional(),
      /** Longest silence allowed between streamed chunks (llm) or heartbeats (script). */
      heartbeatTimeout: durationSchema.optional(),
      retry: stepRetrySchema.partial().optional(),
      next: routeSchema.optional(),
      /** Marks a terminal step; a step with neither `next` nor `end` is an unwired step. */
      end: z.literal(true).optional(),
    })
    .strict();

  const conversationDefinitionSchema = z
    .object({
      name: idSchema,
      version: z.union([z.string().max(50), z.number()]).optional(),
      description: z.string().max(2000).optional(),
      item: z
        .object({
          /** Field that identifies an item: workflow IDs and audit rows are keyed by it. */
          key: fieldNameSchema,
          /** Fields every item must have; the only item fields templates may reference. */
          fields: z.array(fieldNameSchema).min(1),
        })
        .strict(),
      start: stepIdSchema,
      defaults: z
        .object({
          timeout: durationSchema.default('2m'),
          heartbeatTimeout: durationSchema.default('30s'),
          retry: stepRetrySchema.default(() => ({
            maximumAttempts: 3,
            initialInterval: '1s',
            backoffCoefficient: 2,
            maximumInterval: '1m',
          })),
        })
        .strict()
        .default(() => ({
          timeout: '2m',
          heartbeatTimeout: '30s',
          retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
        })),
      steps: z.array(stepSchema).min(1).max(200),
    })
    .strict();

  /** Where a batch's items come from. */
  const itemSourceSchema = z.discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('jsonl'),
        /** One JSON object per line, relative to the project root. */
        path: relativePathSchema,
      })
      .strict(),
    z
      .object({
        kind: z.literal('sql'),
        /**
         * A read-only SELECT returning one row per item; paged by `keyColumn` (keyset pagination, so a
         * query whose result shrinks as items are processed still pages correctly). Runs in a READ
         * ONLY transaction.
         */
        query: z.string().min(1).max(20_000),
        keyColumn: fieldNameSchema,
      })
      .strict(),
    z
      .object({
        kind: z.literal('items'),
        /** Inline items, e.g. the failed items of an earlier batch being retried. */
        items: z.array(z.record(z.string(), z.unknown())).max(5000),
      })
      .strict(),
  ]);

  const definitionRefShape = {
    /** The definition itself, or a JSON file (relative to the project root) holding it. */
    definition: z.unknown().optional(),
    definitionFile: relativePathSchema.optional(),
  };

  const conversationRunInputSchema = z
    .object({
      ...definitionRefShape,
      item: z.record(z.string(), z.unknown()),
      batchId: idSchema.optional(),
    })
    .strict()
    .superRefine((r, ctx) => {
      if ((r.definition === undefined) === (r.definitionFile === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['definition'], message: 'give exactly one of definition or definitionFile' });
      }
    });

  const conversationBatchInputSchema = z
    .object({
      batchId: idSchema,
      ...definitionRefShape,
      source: itemSourceSchema,
      /** Items running at once (each a child conversationRun). */
      concurrency: z.number().int().min(1).max(500).default(10),
      /** Items read per page; the batch continues-as-new after each page. */
      pageSize: z.number().int().min(1).max(1000).default(100),
      /** Send the run-dry / summary notification to SHEPHERD_WEBHOOK_URL. */
      notify: z.boolean().default(true),
      /** After the source runs dry with failures, wait this long for a retryFailed signal before closing. */
      holdForRetry: durationSchema.optional(),
      /** Carried across continue-as-new; not for callers. */
      state: z
        .object({
          cursor: z.string().nullable(),
          page: z.number().int().min(0),
          completed: z.number().int().min(0),
          failed: z.array(z.custom<FailedItem>()),
          failedOmitted: z.number().int().min(0),
          retried: z.number().int().min(0),
          pendingRetry: z.array(z.record(z.string(), z.unknown())),
          /** Items an earlier start of this batch ID already completed: not run again. */
          alreadyDone: z.number().int().min(0).default(0),
        })
        .optional(),
    })
    .strict()
    .superRefine((b, ctx) => {
      if ((b.definition === undefined) === (b.definitionFile === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['definition'], message: 'give exactly one of definition or definitionFile' });
      }
    });
  return {
    llmActorSchema,
    scriptActorSchema,
    dbActorSchema,
    fieldSpecSchema,
    outputSpecSchema,
    actorSchema,
    stepRetrySchema,
    routeSchema,
    stepSchema,
    conversationDefinitionSchema,
    itemSourceSchema,
    conversationRunInputSchema,
    conversationBatchInputSchema,
  };
});
export const {
  fieldSpecSchema,
  outputSpecSchema,
  actorSchema,
  stepRetrySchema,
  routeSchema,
  stepSchema,
  conversationDefinitionSchema,
  itemSourceSchema,
  conversationRunInputSchema,
  conversationBatchInputSchema,
} = schemas;

export type FieldSpec = z.infer<typeof fieldSpecSchema>;
export type OutputSpec = z.infer<typeof outputSpecSchema>;
export type Actor = z.infer<typeof actorSchema>;
export type LlmActor = z.infer<typeof schemas.llmActorSchema>;
export type ScriptActor = z.infer<typeof schemas.scriptActorSchema>;
export type DbActor = z.infer<typeof schemas.dbActorSchema>;
export type Route = z.infer<typeof routeSchema>;
export type Step = z.infer<typeof stepSchema>;
export type ConversationDefinition = z.infer<typeof conversationDefinitionSchema>;
export type ConversationDefinitionInput = z.input<typeof conversationDefinitionSchema>;
export type Item = Record<string, unknown>;
export type ItemSource = z.infer<typeof itemSourceSchema>;
export type ConversationRunInput = z.infer<typeof conversationRunInputSchema>;
export interface FailedItem {
  key: string;
  item: Item;
  step?: string;
  error: string;
}
export type ConversationBatchInput = z.input<typeof conversationBatchInputSchema>;
export type ConversationBatch = z.infer<typeof conversationBatchInputSchema>;
export type BatchState = NonNullable<ConversationBatch['state']>;

export interface StepOutcome {
  step: string;
  attempts: number;
  output: unknown;
}

export interface ConversationRunResult {
  definition: string;
  itemKey: string;
  status: 'completed';
  /** Steps in the order they ran. */
  path: StepOutcome[];
}

export interface ConversationBatchResult {
  batchId: string;
  /** 'source_exhausted': every item was read and has finished (some may have failed). */
  status: 'source_exhausted' | 'cancelled';
  message: string;
  completed: number;
  failed: number;
  failedItems: FailedItem[];
  /** Failed items beyond the list's cap, counted only. */
  failedOmitted: number;
  pages: number;
  notified: boolean;
  /** How the batch ended by the shared rule (src/shared/outcome.ts); absent in batches that predate it. */
  outcome?: 'completed' | 'completed_with_failures' | 'failed';
  /** Items not run because an earlier start of the same batch ID completed them. */
  alreadyDone?: number;
}

export { durationToMs, formatDuration } from '../durations.js';

export function joinText(t: string | string[] | undefined): string {
  return t === undefined ? '' : Array.isArray(t) ? t.join('\n') : t;
}

/** The output a step produces, with defaults for db actions and llm text. */
export function effectiveOutput(step: Step): OutputSpec {
  if (step.output) return step.output;
  if (step.actor?.kind === 'db') {
    return step.actor.action === 'save_decision'
      ? { format: 'json', fields: { decisionId: 'integer' } }
      : { format: 'json', fields: { applied: 'boolean' } };
  }
  return { format: 'text' };
}

/** Field names a step's output offers to later templates and to routing. */
export function outputFields(step: Step): Record<string, FieldSpec> {
  const out = effectiveOutput(step);
  return out.format === 'text' ? { text: 'string' } : out.fields;
}

export function fieldType(spec: FieldSpec): string {
  return typeof spec === 'string' ? spec : spec.type;
}

export function fieldEnum(spec: FieldSpec): string[] | undefined {
  return typeof spec === 'string' ? undefined : spec.enum;
}

/** Per-step effective timeouts and retry, defaults applied. */
export function stepPolicy(def: ConversationDefinition, step: Step) {
  return {
    timeout: step.timeout ?? def.defaults.timeout,
    heartbeatTimeout: step.heartbeatTimeout ?? def.defaults.heartbeatTimeout,
    retry: { ...def.defaults.retry, ...step.retry },
  };
}

/**
 * The task queue a model's calls go to. A dedicated worker per model polls it, and that worker's
 * activity slots are PostgreSQL leases, so the model's limit holds across every worker process.
 */
export function modelTaskQueue(baseQueue: string, model: string): string {
  return `${baseQueue}.model.${model}`;
}

/**
 * The failure type of a model call that could not write the audit rows it carried (earlier
 * attempts'); the model was not called, and the workflow writes those rows itself.
 */
export const AUDIT_NOT_RECORDED = 'AuditNotRecorded';
