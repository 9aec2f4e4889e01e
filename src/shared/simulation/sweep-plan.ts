import type { SeedPolicy } from './schemas.js';
import { fnv1a } from './schemas.js';

// Deterministic arithmetic behind a sweep: seeds, batches, concurrency split, failure policy.
// Pure, so workflows replay it identically and tests can check it without a server.

/** Replicate i's seed: same inputs, same seed, on every machine and every retry. */
export function replicateSeed(policy: SeedPolicy, parameterKey: string, replicate: number): number {
  if (policy.policy === 'sequential') return (policy.base + replicate) % 2 ** 31;
  // Two mixing rounds so neighbouring replicates and parameter sets get unrelated seeds.
  const h = fnv1a(`${parameterKey}#${replicate}`, fnv1a(String(policy.base)));
  return fnv1a(String(h), 0x9e3779b9) % 2 ** 31;
}

export interface BatchRange {
  index: number;
  /** First replicate, inclusive. */
  from: number;
  /** Last replicate, exclusive. */
  to: number;
}

export function batchCount(replicates: number, perTask: number): number {
  return Math.ceil(replicates / perTask);
}

export function batchRange(index: number, replicates: number, perTask: number): BatchRange {
  const from = index * perTask;
  return { index, from, to: Math.min(replicates, from + perTask) };
}

/**
 * Replicates per activity task when the job does not say: about 5 tasks per sweep (at most 100
 * replicates each). Each task costs the server and the worker an activity, a workflow task and
 * heartbeats whatever it holds: at 25 tasks per sweep, in-process replicates ran at a half to a
 * third of the rate, and subprocess replicates in 4-replicate tasks at two thirds (`npm run bench
 * -- sweep`; with 8 per task they were already bound by process creation). Little is lost by
 * larger tasks: a retry after a lost worker skips every replicate already recorded (rows are
 * flushed each second), and a sweep never has more tasks in flight than its concurrency allows.
 */
export function defaultReplicatesPerTask(replicates: number): number {
  return replicatesPerTaskFor(replicates, 5);
}

/** The default before LARGER_SWEEP_TASKS_PATCH (about 25 tasks per sweep): what jobs started earlier replay with. */
export function legacyReplicatesPerTask(replicates: number): number {
  return replicatesPerTaskFor(replicates, 25);
}

/** Replicates per task for about `tasks` tasks per sweep, 1 to 100 each. */
function replicatesPerTaskFor(replicates: number, tasks: number): number {
  return Math.min(100, Math.max(1, Math.ceil(replicates / tasks)));
}

/** Patch id: jobs started after it use defaultReplicatesPerTask, earlier ones legacyReplicatesPerTask. */
export const LARGER_SWEEP_TASKS_PATCH = 'sweep-tasks-of-a-fifth';

/** Splits the job's replicate budget over the sweeps that run at once; every sweep gets at least one. */
export function sweepConcurrency(maxConcurrentReplicates: number, activeSweeps: number): number {
  return Math.max(1, Math.floor(maxConcurrentReplicates / Math.max(1, activeSweeps)));
}

/**
 * Within a sweep: how many replicates one task runs at once, and how many tasks are in flight,
 * such that tasks × per-task never exceeds the sweep's concurrency.
 */
export function windowShape(concurrency: number, perTask: number): { perTaskConcurrency: number; window: number } {
  const perTaskConcurrency = Math.max(1, Math.min(concurrency, perTask));
  // 500 keeps even the largest window far below the server's 2,000 pending activities.
  const window = Math.min(500, Math.max(1, Math.floor(concurrency / perTaskConcurrency)));
  return { perTaskConcurrency, window };
}

/** The partial-failure policy: fail the parameter when strictly more than maxFailedPercent failed. */
export function parameterFails(total: number, failed: number, maxFailedPercent: number): boolean {
  if (total === 0) return false;
  return (failed / total) * 100 > maxFailedPercent + 1e-9;
}

/**
 * How many progress signals each sweep may send to its job, so the job's history stays far from
 * the 51,200-event limit however many parameter sets it has (each signal costs the job up to ~4 events).
 */
export function progressSignalBudget(parameters: number): number {
  return Math.max(2, Math.min(20, Math.floor(6000 / Math.max(1, parameters))));
}

/** Progress fraction at which the k-th signal is due: evenly spaced over the sweep. */
export function nextSignalThreshold(sent: number, budget: number, total: number): number {
  if (budget <= 0) return Number.POSITIVE_INFINITY;
  return Math.ceil(((sent + 1) * total) / (budget + 1));
}

export { durationToMs, formatDurationMs } from '../durations.js';
