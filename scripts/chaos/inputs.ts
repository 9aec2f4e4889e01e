import fc from 'fast-check';
import type { z } from 'zod';
import * as workflows from '../../src/workflows/index.js';
import { experimentBatchSchema, experimentRunInputSchema } from '../../src/shared/experiments/schemas.js';
import { simulationJobSchema, parameterSweepSchema } from '../../src/shared/simulation/schemas.js';
import { trainingQueueInputSchema } from '../../src/shared/training/schemas.js';
import { conversationBatchInputSchema, conversationRunInputSchema } from '../../src/shared/conversations/schemas.js';
import { analysisPipelineSchema, appAnalysisInputSchema } from '../../src/shared/analysis/input.js';
import { workspaceCleanupInputSchema } from '../../src/shared/hygiene/schemas.js';

// Malformed and hostile inputs per workflow type, generated with fast-check. The zod schema the
// workflow validates with tells which field each input gets wrong, so the check can demand that
// the workflow's failure names exactly that field.

const SCHEMAS: Record<string, z.ZodType> = {
  experimentBatch: experimentBatchSchema,
  experimentRun: experimentRunInputSchema,
  simulationJob: simulationJobSchema,
  parameterSweep: parameterSweepSchema,
  trainingQueue: trainingQueueInputSchema,
  conversationBatch: conversationBatchInputSchema,
  conversationRun: conversationRunInputSchema,
  analysisPipeline: analysisPipelineSchema,
  appAnalysis: appAnalysisInputSchema,
  workspaceCleanup: workspaceCleanupInputSchema,
};

/** Workflow types from src/workflows/index.ts, as test/malformed-input.test.ts derives them. */
export const INPUT_TYPES = Object.keys(workflows).filter((t) => t !== 'conversationMetrics');

export interface MalformedInput {
  type: string;
  input: unknown;
  /** The field the failure message must name ('input' when the whole value is wrong). */
  field: string;
}

const hostileString = fc.oneof(
  fc.string(),
  fc.constantFrom('../../etc/passwd', '$(rm -rf /)', '; kill -9 1', '\u0000', 'x'.repeat(5000), '__proto__'),
);
const hostileValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostileString, fc.constant({ __proto__: { polluted: true } }));
// A JSON object whose keys look like real fields, some right names with wrong values.
const objectFor = (keys: string[]) =>
  fc.dictionary(fc.oneof(fc.constantFrom(...keys, '__proto__', 'constructor'), fc.string({ maxLength: 8 })), hostileValue, { maxKeys: 6 });

function topKeys(schema: z.ZodType): string[] {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape;
  return shape ? Object.keys(shape) : ['input'];
}

export function generateInputs(perType: number, seed = Date.now()): MalformedInput[] {
  const out: MalformedInput[] = [];
  for (const type of INPUT_TYPES) {
    const schema = SCHEMAS[type];
    if (!schema) throw new Error(`chaos: no schema known for workflow type ${type} (add it to scripts/chaos/inputs.ts)`);
    const arb = fc.oneof({ arbitrary: objectFor(topKeys(schema)), weight: 4 }, { arbitrary: hostileValue, weight: 1 });
    const samples = fc.sample(arb, { numRuns: perType * 2, seed });
    for (const input of samples) {
      if (out.filter((i) => i.type === type).length >= perType) break;
      // JSON round trip: what a Temporal payload can carry.
      const wire = input === undefined ? null : JSON.parse(JSON.stringify(input));
      const parsed = schema.safeParse(wire);
      if (parsed.success) continue; // a valid input by chance is not a malformed one
      const first = parsed.error.issues[0]?.path[0];
      out.push({ type, input: wire, field: wire === null || typeof first !== 'string' ? 'input' : first });
    }
  }
  return out;
}
