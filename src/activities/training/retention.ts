import type { CheckpointRef } from '../../shared/training/schemas.js';

// Which checkpoints to keep: the last K by step and, optionally, the one with the lowest val
// loss. The newest is always kept (it is where a retry resumes), so at most K + 1 remain.
// Pure, so the rule is unit-tested apart from the files it deletes.

export interface RetentionPlan {
  keep: CheckpointRef[];
  remove: CheckpointRef[];
  best: CheckpointRef | null;
}

export function bestByValLoss(checkpoints: readonly CheckpointRef[]): CheckpointRef | null {
  let best: CheckpointRef | null = null;
  for (const c of checkpoints) {
    if (c.valLoss === null || !Number.isFinite(c.valLoss)) continue;
    // Ties go to the later checkpoint: same quality, more training.
    if (!best || c.valLoss < best.valLoss! || (c.valLoss === best.valLoss && c.step > best.step)) best = c;
  }
  return best;
}

export function planRetention(checkpoints: readonly CheckpointRef[], keepLast: number, keepBest: boolean): RetentionPlan {
  const byStep = [...checkpoints].sort((a, b) => a.step - b.step);
  // One entry per step: a checkpoint rewritten at the same step replaces the older record.
  const unique = [...new Map(byStep.map((c) => [c.step, c])).values()];
  const last = unique.slice(-Math.max(1, keepLast));
  const best = bestByValLoss(unique);
  const keepSteps = new Set(last.map((c) => c.step));
  if (keepBest && best) keepSteps.add(best.step);
  return {
    keep: unique.filter((c) => keepSteps.has(c.step)),
    remove: unique.filter((c) => !keepSteps.has(c.step)),
    best,
  };
}
