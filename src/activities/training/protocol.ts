import { z } from 'zod';

// The trainer's progress protocol: one JSON object per stdout line with an "event" field.
// It is a live channel (progress, checkpoints, validation) distinct from the result file, which
// holds the final metrics. Other stdout lines are plain log text and are ignored here; a line
// that claims to be an event but is malformed is reported, never guessed at.

const step = z.number().int().min(0);
const finite = z.number().refine(Number.isFinite, 'must be a finite number');

const startEvent = z.object({ event: z.literal('start'), step, total_steps: z.number().int().min(1), resumed_from: z.string().nullish() });
const stepEvent = z.object({ event: z.literal('step'), step, loss: finite });
const evalEvent = z.object({
  event: z.literal('eval'),
  step,
  val_loss: finite.nullable(),
  val_accuracy: finite.nullish(),
  reason: z.string().nullish(),
});
const checkpointEvent = z.object({ event: z.literal('checkpoint'), step, path: z.string().min(1), val_loss: finite.nullish() });

const eventSchema = z.discriminatedUnion('event', [startEvent, stepEvent, evalEvent, checkpointEvent]);

export type ProgressEvent = z.infer<typeof eventSchema>;

export type ParsedLine = { kind: 'event'; event: ProgressEvent } | { kind: 'text' } | { kind: 'invalid'; error: string };

const KNOWN = new Set(['start', 'step', 'eval', 'checkpoint']);

export function parseProgressLine(line: string): ParsedLine {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return { kind: 'text' };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return { kind: 'text' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'text' };
  const name = (value as { event?: unknown }).event;
  // JSON without a known event (a library's own JSON logging) is log text, not protocol.
  if (typeof name !== 'string' || !KNOWN.has(name)) return { kind: 'text' };
  const parsed = eventSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'line'}: ${i.message}`).join('; ');
    return { kind: 'invalid', error: `malformed "${name}" event (${problems}): ${trimmed.slice(0, 200)}` };
  }
  return { kind: 'event', event: parsed.data };
}
