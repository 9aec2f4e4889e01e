// Memos are copied into every workflow description and visibility record; the server warns
// above 34 KB. A memo value that would exceed the bound is replaced by a summary saying what it
// held (top-level scalars, array lengths, its size), never by the whole input. Pure: workflows.

export const MAX_MEMO_VALUE_BYTES = 16 * 1024;

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? (i++, 4) : 3;
  }
  return n;
}

export function boundedMemoValue(value: unknown, maxBytes = MAX_MEMO_VALUE_BYTES): unknown {
  const bytes = utf8Length(JSON.stringify(value) ?? '');
  if (bytes <= maxBytes || typeof value !== 'object' || value === null) return value;
  const summary: Record<string, unknown> = {
    truncated: true,
    bytes,
    note: 'too large for the memo: the workflow input in the history holds all of it',
  };
  for (const [k, v] of Object.entries(value)) {
    if (Array.isArray(v)) summary[k] = { items: v.length };
    else if (typeof v === 'string') summary[k] = v.length > 200 ? `${v.slice(0, 200)}…` : v;
    else if (typeof v !== 'object' || v === null) summary[k] = v;
  }
  return summary;
}
