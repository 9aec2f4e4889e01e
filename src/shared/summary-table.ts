// Pure text formatting shared by the webhook notification and the CLI (workflows may use it too).

export interface TableOptions {
  /** Column order; default: keys in order of first appearance. */
  columns?: string[];
  /** Rows that do not fit are replaced by a "… N more rows" line. */
  maxChars?: number;
  /** Longer cells are cut with "…". */
  maxCellWidth?: number;
}

/**
 * A monospace table for a Slack code block: a header, a rule, one line per row; numbers
 * right-aligned with at most 4 decimals, empty cells shown as "-".
 */
export function formatSummaryTable(rows: Record<string, unknown>[], opts: TableOptions = {}): string {
  const maxCellWidth = opts.maxCellWidth ?? 40;
  const columns =
    opts.columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((c) => rows.some((r) => r[c] !== undefined && r[c] !== null));
  const numeric = columns.map((c) => rows.every((r) => r[c] === undefined || r[c] === null || typeof r[c] === 'number'));
  const cells = rows.map((r) => columns.map((c) => truncate(formatCell(r[c]), maxCellWidth)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const header = [line(columns), widths.map((w) => '-'.repeat(w)).join('  ')];
  const body = cells.map(line);
  if (opts.maxChars === undefined) return [...header, ...body].join('\n');

  const out = [...header];
  let length = out.join('\n').length;
  for (let i = 0; i < body.length; i++) {
    const more = `… ${body.length - i} more rows`;
    const rest = i === body.length - 1 ? 0 : more.length + 1;
    if (length + 1 + body[i]!.length + rest > opts.maxChars) {
      out.push(more);
      break;
    }
    out.push(body[i]!);
    length += 1 + body[i]!.length;
  }
  return out.join('\n');
}

function formatCell(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v).replace(/\s+/g, ' ');
}

/** Cuts a string to at most `max` characters, marking the cut with "…". */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
}
