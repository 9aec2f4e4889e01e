import type { z } from 'zod';
import { durationToMs, formatDuration, formatDurationMs } from '../durations.js';
import { durationSchema } from '../schemas.js';

// Progress-based liveness, the pure half: the `progressTimeout` field every command step may
// declare, how a step's silence is described to people (heartbeat details, CLI), and the
// recommendation of a progressTimeout from observed silences. The worker-side clock is
// src/activities/step/liveness.ts. Pure: workflows and the CLI import this.

/** Shortest progressTimeout accepted: shorter would kill programs that merely buffer their output. */
export const PROGRESS_TIMEOUT_MIN_MS = 1000;
/** Longest accepted: beyond a week the start-to-close timeout is the better guard. */
export const PROGRESS_TIMEOUT_MAX_MS = 7 * 86_400_000;

/**
 * How long a step may go without a sign of life (an output line, growth of its workspace files,
 * a progress record) before it counts as stalled and is killed and retried (StepStalled).
 */
export const progressTimeoutSchema = durationSchema.refine(
  (d) => {
    const ms = msOrNull(d);
    return ms === null || (ms >= PROGRESS_TIMEOUT_MIN_MS && ms <= PROGRESS_TIMEOUT_MAX_MS);
  },
  { error: `must be between ${formatDuration(PROGRESS_TIMEOUT_MIN_MS)} and ${formatDuration(PROGRESS_TIMEOUT_MAX_MS)}` },
);

// zod runs refinements even after the duration format failed: that issue is reported already.
function msOrNull(d: unknown): number | null {
  try {
    return typeof d === 'string' || typeof d === 'number' ? durationToMs(d) : null;
  } catch {
    return null;
  }
}

/** Adds an issue at `path` when a progressTimeout is not shorter than the timeout it sits under. */
export function checkProgressTimeout(
  progressTimeout: string | number | undefined,
  timeout: string | number | undefined,
  ctx: z.RefinementCtx,
  path: PropertyKey[],
  timeoutName: string,
): void {
  const ms = msOrNull(progressTimeout);
  const limit = msOrNull(timeout);
  if (ms === null || limit === null) return;
  if (ms >= limit) {
    ctx.addIssue({
      code: 'custom',
      path,
      message: `must be shorter than ${timeoutName} (${timeout}): otherwise the timeout fires first and a stall is never detected`,
    });
  }
}

/** What resets a step's silence clock: any output or file growth, or only progress records (training steps). */
export type LivenessEvidence = 'output' | 'progress';

/** Silence shorter than this is not worth mentioning (unless half the progressTimeout is shorter). */
export const SILENCE_NOTICE_MS = 30_000;

export interface LivenessView {
  elapsedMs: number;
  /** Time since the last sign of life. */
  silentMs: number;
  progressTimeoutMs?: number | null;
  evidence?: LivenessEvidence;
}

/** Whether a silence is worth saying ("no output for 2m") rather than plain "running". */
export function silenceIsNotable(v: Pick<LivenessView, 'silentMs' | 'progressTimeoutMs'>): boolean {
  const notice = v.progressTimeoutMs ? Math.min(SILENCE_NOTICE_MS, v.progressTimeoutMs / 2) : SILENCE_NOTICE_MS;
  return v.silentMs >= notice;
}

/**
 * "no output for 2m (progressTimeout 5m)", "stalled for 5m: no output (progressTimeout 5m), being
 * stopped", or null when the silence is ordinary: what a line about a running step adds.
 */
export function describeSilence(v: Omit<LivenessView, 'elapsedMs'>): string | null {
  const what = v.evidence === 'progress' ? 'no progress' : 'no output';
  if (v.progressTimeoutMs && v.silentMs >= v.progressTimeoutMs) {
    return `stalled for ${formatDurationMs(v.silentMs)}: ${what} (progressTimeout ${formatDurationMs(v.progressTimeoutMs)}), being stopped`;
  }
  if (!silenceIsNotable(v)) return null;
  const limit = v.progressTimeoutMs ? ` (progressTimeout ${formatDurationMs(v.progressTimeoutMs)})` : '';
  return `${what} for ${formatDurationMs(v.silentMs)}${limit}`;
}

/**
 * "running 4m", "running 9m, no output for 2m", or "stalled for 5m (progressTimeout 5m)": what
 * heartbeat details and the CLI show, so hung is told apart from slow.
 */
export function describeLiveness(v: LivenessView): string {
  const running = `running ${formatDurationMs(v.elapsedMs)}`;
  const silence = describeSilence(v);
  if (silence === null) return running;
  return silence.startsWith('stalled') ? silence : `${running}, ${silence}`;
}

/** Samples needed before a progressTimeout is recommended: a few runs say little about the tail. */
export const PROGRESS_RECOMMENDATION_MIN_SAMPLES = 5;
/** Headroom over the longest silence seen. */
export const PROGRESS_RECOMMENDATION_FACTOR = 3;
/** Never recommend less: a minute of silence is ordinary for a program loading data. */
export const PROGRESS_RECOMMENDATION_FLOOR_MS = 60_000;

export interface ProgressRecommendation {
  samples: number;
  longestSilenceMs: number;
  /** null when there are fewer than the minimum samples. */
  recommendedMs: number | null;
  /** In the input grammar ("15m"), rounded up to whole minutes (seconds under a minute), or null. */
  recommended: string | null;
  note: string;
}

/** max(3 × longest observed silence, 1 minute), rounded up, once at least 5 runs were observed. */
export function recommendProgressTimeout(
  samples: number,
  longestSilenceMs: number,
  minSamples = PROGRESS_RECOMMENDATION_MIN_SAMPLES,
): ProgressRecommendation {
  if (samples < minSamples) {
    return {
      samples,
      longestSilenceMs,
      recommendedMs: null,
      recommended: null,
      note: `needs at least ${minSamples} successful runs (have ${samples})`,
    };
  }
  const raw = Math.max(PROGRESS_RECOMMENDATION_FACTOR * longestSilenceMs, PROGRESS_RECOMMENDATION_FLOOR_MS);
  const unit = raw >= 60_000 ? 60_000 : 1000;
  const recommendedMs = Math.min(Math.ceil(raw / unit) * unit, PROGRESS_TIMEOUT_MAX_MS);
  return {
    samples,
    longestSilenceMs,
    recommendedMs,
    recommended: formatDuration(recommendedMs),
    note: `${PROGRESS_RECOMMENDATION_FACTOR} × longest silence ${formatDurationMs(longestSilenceMs)} over ${samples} runs (floor ${formatDurationMs(PROGRESS_RECOMMENDATION_FLOOR_MS)})`,
  };
}
