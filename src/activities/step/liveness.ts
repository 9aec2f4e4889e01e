import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { LivenessEvidence } from '../../shared/step/liveness.js';

// The worker half of progress-based liveness: a clock of the step's last sign of life. A timer
// heartbeat only proves the worker is alive; this proves the program is. Signs of life are
// output lines, growth of files in the workspace, and progress records the caller reports
// (training's step advances). With evidence 'progress' only the latter count, so a trainer that
// keeps logging but never advances its step is still seen as stalled.

export interface LivenessSnapshot {
  /** Since the last sign of life (or the start): what progressTimeout is measured against. */
  silentMs: number;
  /** Longest silence so far, the current one included: what progressTimeout recommendations use. */
  longestSilenceMs: number;
  evidence: LivenessEvidence;
}

export class StepLiveness {
  private lastSignAt: number;
  private longestMs = 0;

  constructor(
    readonly evidence: LivenessEvidence = 'output',
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastSignAt = this.now();
  }

  /** The step started (the clock counts from here, not from the object's creation). */
  restart(): void {
    this.lastSignAt = this.now();
    this.longestMs = 0;
  }

  /** An output line on stdout or stderr. */
  output(): void {
    if (this.evidence === 'output') this.sign();
  }

  /** The workspace's files grew or changed. */
  files(): void {
    if (this.evidence === 'output') this.sign();
  }

  /** A progress record: always a sign of life. */
  progress(): void {
    this.sign();
  }

  snapshot(): LivenessSnapshot {
    const silentMs = Math.max(0, Math.round(this.now() - this.lastSignAt));
    return { silentMs, longestSilenceMs: Math.max(this.longestMs, silentMs), evidence: this.evidence };
  }

  private sign(): void {
    const t = this.now();
    this.longestMs = Math.max(this.longestMs, Math.round(t - this.lastSignAt));
    this.lastSignAt = t;
  }
}

/** Entries looked at per scan: a workspace with millions of files must not cost a scan of all of them. */
export const MAX_SCANNED_ENTRIES = 5000;

/**
 * A cheap signature of a directory tree (bytes, files, newest mtime), bounded by
 * MAX_SCANNED_ENTRIES; a change between two scans is file growth. Unreadable entries are skipped.
 */
export async function treeSignature(root: string): Promise<string> {
  let bytes = 0;
  let files = 0;
  let newest = 0;
  let seen = 0;
  const queue = [root];
  while (queue.length > 0 && seen < MAX_SCANNED_ENTRIES) {
    const dir = queue.shift()!;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (++seen > MAX_SCANNED_ENTRIES) break;
      const p = path.join(dir, name);
      try {
        const st = await lstat(p);
        if (st.isDirectory()) queue.push(p);
        else if (st.isFile()) {
          bytes += st.size;
          files++;
          newest = Math.max(newest, st.mtimeMs);
        }
      } catch {
        // gone between readdir and lstat: the next scan sees the new state
      }
    }
  }
  return `${bytes}:${files}:${newest}`;
}

/** Watches a workspace for growth; `check()` reports whether it changed since the previous check. */
export class TreeWatcher {
  private last: string | undefined;
  private scanning: Promise<boolean> | undefined;

  constructor(private readonly root: string) {}

  /** Concurrent callers share one scan. */
  check(): Promise<boolean> {
    this.scanning ??= treeSignature(this.root)
      .then((sig) => {
        const changed = this.last !== undefined && sig !== this.last;
        this.last = sig;
        return changed;
      })
      .finally(() => (this.scanning = undefined));
    return this.scanning;
  }
}
