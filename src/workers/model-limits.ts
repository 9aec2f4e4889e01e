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
// - A released lease goes to a reservation waiting in this process (the next poll) without asking
//   the database; else it is kept as this process's one spare for `spareMs` (the next reservation,
//   usually the next step's poll, takes it without a query), then given back. The row stays held
//   under the same token and renewed throughout, so the bound is unchanged; what it costs is that
//   another process may wait up to `spareMs` longer for a slot this one holds spare. A process
//   holding the whole limit does not ask for more: its waiting reservation takes the next release.
//   Measured: a run's model calls one after another take no lease statement each (1 to 2.7 before).
// - Calls the main worker makes itself (local-first, src/workers/local-model-slots.ts) take the
//   same leases without waiting (`tryLease`): the spare or a free row, else the call is queued.

export interface ModelSlotSupplierOptions {
  pool: pg.Pool;
  model: string;
  limit: number;
  /** Lease lifetime without renewal; what a dead worker's slots cost before they come free. */
  ttlMs?: number;
  /** Longest wait between attempts to get a slot held elsewhere. */
  pollMs?: number;
  /** How long a released lease is kept for this process's next reservation; 0 gives it back at once. */
  spareMs?: number;
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
  private readonly spareMs: number;
  private slotsEnsured = false;
  private readonly renewals = new Map<string, NodeJS.Timeout>();
  /** Reservations waiting in this process; each takes a handed-over permit, or none once it has stopped waiting. */
  private readonly waiting: Array<(permit: ModelPermit) => void> = [];
  private spare: { permit: ModelPermit; expiry: NodeJS.Timeout } | null = null;
  /** Leases whose renewal found the row taken: never handed on, so the bound is restored at release. */
  private readonly lost = new Set<string>();
  private readonly holderPrefix = `${os.hostname()}/${process.pid}`;

  constructor(private readonly opts: ModelSlotSupplierOptions) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.pollMs = opts.pollMs ?? 250;
    this.spareMs = opts.spareMs ?? 500;
  }

  /** Slots this supplier holds right now (reserved for a poll or in use). */
  get held(): number {
    return this.renewals.size;
  }

  async reserveSlot(_ctx: unknown, abortSignal: AbortSignal): Promise<SlotPermit> {
    let delay = 20;
    for (;;) {
      if (abortSignal.aborted) throw aborted(abortSignal);
      // A lease released while the query ran was kept spare: take it rather than wait.
      const permit = this.takeSpare() ?? (await this.acquire()) ?? this.takeSpare() ?? (await this.waitForRelease(delay, abortSignal));
      if (permit) {
        if (!abortSignal.aborted) return permit;
        this.release(permit);
        throw aborted(abortSignal);
      }
      delay = Math.min(delay * 2, this.pollMs);
    }
  }

  /** A new lease from the database, or null when none is free (or the database cannot say). */
  private async acquire(): Promise<ModelPermit | null> {
    // Holding the whole limit here, no slot can be free: wait for one of ours to be released.
    if (this.held >= this.opts.limit) return null;
    const token = `${this.holderPrefix}/${randomUUID()}`;
    try {
      if (!this.slotsEnsured) {
        await ensureSlots(this.opts.pool, this.opts.model, this.opts.limit);
        this.slotsEnsured = true;
      }
      const slot = await acquireSlot(this.opts.pool, this.opts.model, this.opts.limit, token, this.ttlMs);
      if (slot === null) return null;
      const permit: ModelPermit = { model: this.opts.model, slot, token };
      this.startRenewal(permit);
      return permit;
    } catch (err) {
      // Database unreachable: no permit can be proven free, so none is issued; try again.
      this.opts.logger?.warn({ err: (err as Error).message, model: this.opts.model }, 'model slot lease query failed; retrying');
      return null;
    }
  }

  /**
   * A lease for a call this process makes itself (a local model call), without waiting: the
   * spare, else a free row. Null when none is free: the call then waits in the model's task queue
   * like any other. Give it back with `returnLease`; it goes to a waiting reservation first.
   */
  async tryLease(): Promise<ModelPermit | null> {
    return this.takeSpare() ?? (await this.acquire());
  }

  returnLease(permit: SlotPermit): void {
    this.release(permit as ModelPermit);
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
    if (this.spare) clearTimeout(this.spare.expiry);
    this.spare = null;
    const tokens = [...this.renewals.keys()];
    for (const t of tokens) clearInterval(this.renewals.get(t));
    this.renewals.clear();
    this.lost.clear();
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
            if (ok) return;
            this.lost.add(permit.token);
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

  /** Hands a released lease to a waiting reservation, else keeps it spare, else gives it back. */
  private release(permit: ModelPermit) {
    if (!permit?.token || !this.renewals.has(permit.token)) return;
    if (this.lost.has(permit.token)) return this.giveBack(permit);
    const waiter = this.waiting.shift();
    if (waiter) return waiter({ ...permit });
    if (!this.spare && this.spareMs > 0) {
      const expiry = setTimeout(() => {
        const spare = this.spare;
        this.spare = null;
        if (spare) this.giveBack(spare.permit);
      }, this.spareMs);
      expiry.unref();
      this.spare = { permit, expiry };
      return;
    }
    this.giveBack(permit);
  }

  private takeSpare(): ModelPermit | null {
    const spare = this.spare;
    if (!spare) return null;
    clearTimeout(spare.expiry);
    this.spare = null;
    if (!this.lost.has(spare.permit.token)) return { ...spare.permit };
    this.giveBack(spare.permit);
    return null;
  }

  private giveBack(permit: ModelPermit) {
    clearInterval(this.renewals.get(permit.token));
    this.renewals.delete(permit.token);
    this.lost.delete(permit.token);
    recordModelSlotsInUse(this.opts.model, this.held);
    releaseSlotRow(this.opts.pool, permit).catch((err) =>
      this.opts.logger?.warn({ err: (err as Error).message, model: permit.model }, 'model slot release failed; it frees at lease expiry'),
    );
  }

  /** Resolves with a lease another reservation here released, or null after `ms` or on abort. */
  private waitForRelease(ms: number, signal: AbortSignal): Promise<ModelPermit | null> {
    return new Promise((resolve) => {
      const stop = (permit: ModelPermit | null) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const i = this.waiting.indexOf(take);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(permit);
      };
      const take = (permit: ModelPermit) => stop(permit);
      const onAbort = () => stop(null);
      const timer = setTimeout(onAbort, ms);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(take);
    });
  }
}
