import type { AggregateSpec, FieldStats } from './schemas.js';

// Pure statistics over replicate results; used by the aggregation activity and unit-tested alone.

/** Reads a dotted path ("peak.day") from a result object; undefined when any step is missing. */
export function readField(result: unknown, path: string): unknown {
  let cur: unknown = result;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Linear interpolation between closest ranks (numpy's default, "type 7"); `sorted` ascending. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function percentileLabel(p: number): string {
  return `p${p}`;
}

/** Stats over one field's values; non-numeric or missing values are counted as `missing`, never as 0. */
export function fieldStats(raw: readonly unknown[], spec: Pick<AggregateSpec, 'stats' | 'percentiles'>): FieldStats {
  const values = raw.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const n = values.length;
  const out: FieldStats = { count: n, missing: raw.length - n };
  const sorted = [...values].sort((a, b) => a - b);
  // Two passes (mean, then squared deviations): stable for large, similar values, and exact
  // where the data allow it (45 ones in 50 gives 0.9, not 0.8999999999999997).
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : 0;
  const m2 = values.reduce((a, x) => a + (x - mean) ** 2, 0);
  for (const stat of spec.stats) {
    if (stat === 'mean') out.mean = n ? mean : null;
    if (stat === 'std') out.std = n >= 2 ? Math.sqrt(m2 / (n - 1)) : null;
    if (stat === 'min') out.min = n ? sorted[0] : null;
    if (stat === 'max') out.max = n ? sorted[n - 1] : null;
  }
  if (spec.percentiles.length) {
    out.percentiles = {};
    for (const p of spec.percentiles) out.percentiles[percentileLabel(p)] = percentile(sorted, p);
  }
  return out;
}

/** Summarises every requested field over the successful replicates' results. */
export function aggregateResults(results: readonly unknown[], spec: AggregateSpec): Record<string, FieldStats> {
  const out: Record<string, FieldStats> = {};
  for (const field of spec.fields)
    out[field] = fieldStats(
      results.map((r) => readField(r, field)),
      spec,
    );
  return out;
}
