import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

// The worker-side model registry: where each model is served and how many calls it may run at
// once across ALL workers. It lives with the workers (not in conversation definitions) because
// base URLs and API keys are deployment facts, and because the per-model limit must be one number
// that every worker agrees on. API keys are never in the file: only the NAME of the env variable.

export const modelConfigSchema = z
  .object({
    provider: z.enum(['ollama', 'openai']),
    /** Ollama: http://host:11434; OpenAI-compatible: the base including /v1, e.g. https://api.openai.com/v1. */
    baseUrl: z.url(),
    /** Model name sent to the server when it differs from the registry key. */
    model: z.string().min(1).optional(),
    /** Name of the env variable holding the API key (OpenAI-compatible servers). */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be the NAME of an environment variable, never the key itself')
      .optional(),
    /** Calls in flight at once across every worker (enforced with PostgreSQL leases). */
    maxConcurrency: z.number().int().min(1).max(256).default(1),
    /**
     * How structured output is requested: 'schema' sends a JSON schema (Ollama `format`, OpenAI
     * `response_format: json_schema`); 'object' asks for any JSON object; 'prompt' only instructs.
     */
    jsonMode: z.enum(['schema', 'object', 'prompt']).default('schema'),
    /** Extra provider options (Ollama `options`, e.g. num_ctx). */
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const modelRegistrySchema = z.object({ models: z.record(z.string().min(1), modelConfigSchema) }).strict();

export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type ModelRegistry = z.infer<typeof modelRegistrySchema>;

/**
 * SHEPHERD_MODELS (inline JSON) or SHEPHERD_MODELS_FILE (a JSON file) → the registry; neither set
 * means no models (conversation steps with llm actors are then rejected before they run).
 */
export function loadModelRegistry(env: NodeJS.ProcessEnv = process.env): ModelRegistry {
  let raw: unknown;
  let from: string;
  if (env.SHEPHERD_MODELS) {
    from = 'SHEPHERD_MODELS';
    raw = parseJson(env.SHEPHERD_MODELS, from);
  } else if (env.SHEPHERD_MODELS_FILE) {
    const file = path.resolve(env.SHEPHERD_MODELS_FILE);
    from = `SHEPHERD_MODELS_FILE (${file})`;
    raw = parseJson(readFileSync(file, 'utf8'), from);
  } else {
    return { models: {} };
  }
  return parseModelRegistry(raw, from);
}

export function parseModelRegistry(raw: unknown, from = 'model registry'): ModelRegistry {
  const parsed = modelRegistrySchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid ${from}: ${problems}`);
  }
  return parsed.data;
}

function parseJson(text: string, from: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${from} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}
