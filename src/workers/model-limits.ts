import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { ActivitySlotInfo, CustomSlotSupplier, SlotPermit, SlotReleaseContext } from '@temporalio/worker';
import type pg from 'pg';
import type { Logger } from '../config/logger.js';
import { acquireSlot, ensureSlots, releaseSlotRow, renewSlot } from '../db/model-slots.js';

export { acquireSlot, announceModels, ensureSlots, knownModels, leasedSlots } from '../db/model-slots.js';
import { recordModelSlotsInUse } from '../activities/shepherd-metrics.js';

// Per-model concurrency that holds across every worker process.
//
// Design: each model has its own task queue (modelTaskQueue) polled by a dedicated Worker whose
// activity slots come from this supplier. The Temporal SDK asks a slot supplier for a permit
// BEFORE it polls for a task, and releases the permit when the task is done; here a permit is a
// lease on one row of `model_slots` (slots 0..limit-1) in PostgreSQL, the one thing all workers
// share. So the number of calls executing for a model anywhere is at most the number of leased
// rows, which is at most the limit. `maxConcurrentActivityTaskExecutions` alone would only bound
// each process (two workers with "mistral: 1" would run two calls at once).
//
// - Waiting happens before the poll, so queued calls wait in the Temporal task queue (visible as
//   schedule-to-start), not inside an activity burning its start-to-close timeout.
// - A lease is renewed every ttl/3 while held (short queries from the pool; no connection is held
//   during a model call). A worker that is SIGKILLed stops renewing: its slots come free after the
//   TTL, and Temporal retries its calls elsewhere after their heartbeat timeout.
// - Expiry is judged by the database clock (now()), so worker clock skew cannot double-book a slot.
// - Configure the same limit on every worker: a worker uses slots below its own limit, so the
//   effective bound is the largest limit configured anywhere.

export interface ModelSlotSupplierOptions {
  pool: pg.Pool;
  model: string;
  limit: number;
  /** Lease lifetime without renewal; what a dead worker's slots cost before they come free. */
  ttlMs?: number;
  /** Longest wait between attempts to get a slot held elsewhere. */
  pollMs?: number;
  logger?: Logger;
}

interface ModelPermit extends SlotPermit {
  model: string;
  slot: number;
  token: string;
}

// The SDK treats a rejection with the abort signal's own reason as a clean abort; anything else
// is logged as a supplier error.
function aborted(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('slot reservation aborted', 'AbortError');
}

export class ModelSlotSupplier implements CustomSlotSupplier<ActivitySlotInfo> {
  readonly type = 'custom' as const;
  private readonly ttlMs: number;
  private readonly pollMs: number;
  private slotsEnsured = false;
  private readonly renewals = new Map<string, NodeJS.Timeout>();
  private waiters = new Set<() => void>();
  private readonly holderPrefix = `${os.hostname()}/${process.pid}`;

  constructor(private readonly opts: ModelSlotSupplierOptions) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.pollMs = opts.pollMs ?? 250;
  }

  /** Slots this supplier holds right now (reserved for a poll or in use). */
  get held(): number {
    return this.renewals.size;
  }

  async reserveSlot(_ctx: unknown, abortSignal: AbortSignal): Promise<SlotPermit> {
    let delay = 20;
    for (;;) {
      if (abortSignal.aborted) throw aborted(abortSignal);
      const token = `${this.holderPrefix}/${randomUUID()}`;
      let slot: number | null = null;
      try {
        if (!this.slotsEnsured) {
          await ensureSlots(this.opts.pool, this.opts.model, this.opts.limit);
          this.slotsEnsured = true;
        }
        slot = await acquireSlot(this.opts.pool, this.opts.model, this.opts.limit, token, this.ttlMs);
      } catch (err) {
        // Database unreachable: no permit can be proven free, so none is issued; try again.
        this.opts.logger?.warn({ err: (err as Error).message, model: this.opts.model }, 'model slot lease query failed; retrying');
      }
      if (slot !== null) {
        const permit: ModelPermit = { model: this.opts.model, slot, token };
        if (abortSignal.aborted) {
          this.release(permit);
          throw aborted(abortSignal);
        }
        this.startRenewal(permit);
        return permit;
      }
      await this.waitForWake(delay, abortSignal);
      delay = Math.min(delay * 2, this.pollMs);
    }
  }

  /** Never blocks, so it cannot ask the database: eager tasks fall back to a normal poll. */
  tryReserveSlot(): SlotPermit | null {
    return null;
  }

  markSlotUsed(): void {}

  releaseSlot(ctx: SlotReleaseContext<ActivitySlotInfo>): void {
    this.release(ctx.permit as ModelPermit);
  }

  /** Releases every lease this supplier holds (worker shutdown). */
  async releaseAll(): Promise<void> {
    const tokens = [...this.renewals.keys()];
    for (const t of tokens) clearInterval(this.renewals.get(t));
    this.renewals.clear();
    if (tokens.length > 0) {
      await this.opts.pool
        .query('UPDATE model_slots SET holder = NULL, expires_at = NULL WHERE holder = ANY($1::text[])', [tokens])
        .catch(() => undefined);
    }
  }

  private startRenewal(permit: ModelPermit) {
    const timer = setInterval(
      () => {
        renewSlot(this.opts.pool, permit, this.ttlMs)
          .then((ok) => {
            if (!ok)
              this.opts.logger?.error(
                { model: permit.model, slot: permit.slot },
                'model slot lease was lost (not renewed within its TTL); the limit may be exceeded until this call ends',
              );
          })
          .catch((err) => this.opts.logger?.warn({ err: (err as Error).message, model: permit.model }, 'model slot lease renewal failed'));
      },
      Math.max(50, Math.floor(this.ttlMs / 3)),
    );
    timer.unref();
    this.renewals.set(permit.token, timer);
    recordModelSlotsInUse(this.opts.model, this.held);
  }

  private release(permit: ModelPermit) {
    if (!permit?.token) return;
    clearInterval(this.renewals.get(permit.token));
    this.renewals.delete(permit.token);
    recordModelSlotsInUse(this.opts.model, this.held);
    releaseSlotRow(this.opts.pool, permit)
      .catch((err) =>
        this.opts.logger?.warn({ err: (err as Error).message, model: permit.model }, 'model slot release failed; it frees at lease expiry'),
      )
      .finally(() => this.wake());
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w();
  }

  private waitForWake(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }
}
