import { UNDECODABLE_KEY } from './payload-converter.js';

// The marker Shepherd's payload converter (payload-converter.js) returns for a payload it cannot
// decode, and the message that names it. Pure: bundled into workflows.

export { UNDECODABLE_KEY };

export interface UndecodablePayload {
  [UNDECODABLE_KEY]: true;
  encoding: string;
  error: string;
}

export function isUndecodable(v: unknown): v is UndecodablePayload {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[UNDECODABLE_KEY] === true;
}

/** A message naming the first undecodable argument, or null when every argument decoded. */
export function undecodableMessage(args: readonly unknown[], what: string): string | null {
  const i = args.findIndex(isUndecodable);
  if (i < 0) return null;
  const p = args[i] as UndecodablePayload;
  const hint =
    p.encoding === 'binary/encrypted'
      ? 'give the worker that key in SHEPHERD_ENCRYPTION_KEYS (keep old keys listed after a rotation)'
      : 'send JSON with encoding json/plain';
  return `${what} could not be decoded: argument ${i + 1} has payload encoding "${p.encoding}" (${p.error}); ${hint}`;
}
