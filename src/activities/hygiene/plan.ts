import { formatBytes } from '../../shared/bytes.js';
import { formatDurationMs } from '../../shared/durations.js';
import { policyLimits, type RetentionPolicy, type RunClass } from '../../shared/hygiene/schemas.js';

// Which run trees go, and why. Pure: the activity gathers the facts (sizes, outcomes, running
// steps), this decides. A run that is running, holds a running step, or whose outcome could not
// be learnt is never removed, not even to meet the size limit.

export interface RunFacts<T = unknown> {
  ref: T;
  workflowId: string;
  bytes: number;
  class: RunClass;
  endedAtMs: number;
  /** Set = never removed, for this reason. */
  protectedBy?: string;
}

export interface Decision<T> {
  facts: RunFacts<T>;
  remove: boolean;
  reason: string;
}

export function planCleanup<T>(runs: readonly RunFacts<T>[], policy: RetentionPolicy, nowMs: number): Decision<T>[] {
  const limits = policyLimits(policy);
  const decisions = runs.map((facts): Decision<T> => ({ facts, remove: false, reason: facts.protectedBy ?? 'within policy' }));
  const byGroup = new Map<string, Decision<T>[]>();
  for (const d of decisions) {
    if (d.facts.protectedBy || d.facts.class === 'running') continue;
    const key = `${d.facts.class}\u0000${d.facts.workflowId}`;
    byGroup.set(key, [...(byGroup.get(key) ?? []), d]);
  }
  for (const group of byGroup.values()) {
    group.sort((a, b) => b.facts.endedAtMs - a.facts.endedAtMs);
    group.forEach((d, i) => {
      const cls = d.facts.class as 'succeeded' | 'failed';
      const { last, maxAgeMs } = limits[cls];
      const age = nowMs - d.facts.endedAtMs;
      if (i >= last) Object.assign(d, { remove: true, reason: `beyond the last ${last} ${cls} run(s) of this workflow` });
      else if (age > maxAgeMs)
        Object.assign(d, {
          remove: true,
          reason: `${cls} ${formatDurationMs(age)} ago, over the max age of ${formatDurationMs(maxAgeMs)}`,
        });
      else d.reason = `one of the last ${last} ${cls} run(s), within the max age`;
    });
  }
  // Still over the total: the oldest removable runs go, succeeded before failed.
  let total = decisions.filter((d) => !d.remove).reduce((s, d) => s + d.facts.bytes, 0);
  const candidates = decisions
    .filter((d) => !d.remove && !d.facts.protectedBy && d.facts.class !== 'running')
    .sort((a, b) => (a.facts.class === b.facts.class ? a.facts.endedAtMs - b.facts.endedAtMs : a.facts.class === 'succeeded' ? -1 : 1));
  for (const d of candidates) {
    if (total <= limits.maxTotalBytes) break;
    total -= d.facts.bytes;
    Object.assign(d, { remove: true, reason: `workspaces over the total size limit of ${formatBytes(limits.maxTotalBytes)}` });
  }
  return decisions;
}
