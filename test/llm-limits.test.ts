import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type pg from 'pg';
import { acquireSlot, leasedSlots } from '../src/db/model-slots.js';
import { ModelSlotSupplier } from '../src/workers/model-limits.js';
import { createPool } from '../src/db/pool.js';

// The per-model slot supplier against the suite's real PostgreSQL. Each supplier stands for one
// worker process: they share nothing but the database, which is the point.

let pool: pg.Pool;
beforeAll(() => {
  pool = createPool(inject('databaseUrl'));
});
afterAll(async () => pool.end());

const model = () => `limit-test-${randomUUID().slice(0, 8)}`;

/** Settles to 'pending' if the promise has not resolved by the time a database round trip has. */
async function state(p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  await pool.query('SELECT 1');
  await new Promise((r) => setTimeout(r, 300));
  return Promise.race([
    p.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    Promise.resolve('pending' as const),
  ]);
}

const ctx = {} as never;

describe('ModelSlotSupplier (PostgreSQL leases)', () => {
  it('limit 1 across two "workers": the second waits until the first releases', async () => {
    const m = model();
    const a = new ModelSlotSupplier({ pool, model: m, limit: 1, pollMs: 50 });
    const b = new ModelSlotSupplier({ pool, model: m, limit: 1, pollMs: 50 });
    const permitA = await a.reserveSlot(ctx, new AbortController().signal);
    const pendingB = b.reserveSlot(ctx, new AbortController().signal);
    expect(await state(pendingB)).toBe('pending');
    expect(await leasedSlots(pool, m)).toBe(1);
    a.releaseSlot({ permit: permitA });
    const permitB = await pendingB;
    expect(permitB).toMatchObject({ model: m, slot: 0 });
    b.releaseSlot({ permit: permitB });
    await expect.poll(() => leasedSlots(pool, m)).toBe(0);
  });

  it('limit 2 across three "workers": two run, the third waits', async () => {
    const m = model();
    const s = [1, 2, 3].map(() => new ModelSlotSupplier({ pool, model: m, limit: 2, pollMs: 50 }));
    const p1 = await s[0]!.reserveSlot(ctx, new AbortController().signal);
    const p2 = await s[1]!.reserveSlot(ctx, new AbortController().signal);
    const p3 = s[2]!.reserveSlot(ctx, new AbortController().signal);
    expect(await state(p3)).toBe('pending');
    expect(new Set([(p1 as { slot: number }).slot, (p2 as { slot: number }).slot])).toEqual(new Set([0, 1]));
    s[1]!.releaseSlot({ permit: p2 });
    expect(await p3).toMatchObject({ slot: (p2 as { slot: number }).slot });
    s[0]!.releaseSlot({ permit: p1 });
    await s[2]!.releaseAll();
    await expect.poll(() => leasedSlots(pool, m)).toBe(0);
  });

  it('a slot held by a dead worker (no renewals) comes free after the lease TTL', async () => {
    const m = model();
    const b = new ModelSlotSupplier({ pool, model: m, limit: 1, pollMs: 50 });
    // Create the rows, then lease the only slot as a worker that dies right after.
    const first = await b.reserveSlot(ctx, new AbortController().signal);
    b.releaseSlot({ permit: first });
    await expect.poll(() => leasedSlots(pool, m)).toBe(0);
    expect(await acquireSlot(pool, m, 1, 'dead-worker', 1000)).toBe(0);
    const pending = b.reserveSlot(ctx, new AbortController().signal);
    expect(await state(pending)).toBe('pending');
    expect(await pending).toMatchObject({ slot: 0 });
    const { rows } = await pool.query('SELECT holder FROM model_slots WHERE model = $1', [m]);
    expect(rows[0].holder).not.toBe('dead-worker');
    await b.releaseAll();
  });

  it('a held lease is renewed past its TTL while the slot is in use', async () => {
    const m = model();
    const a = new ModelSlotSupplier({ pool, model: m, limit: 1, ttlMs: 600, pollMs: 50 });
    const b = new ModelSlotSupplier({ pool, model: m, limit: 1, ttlMs: 600, pollMs: 50 });
    const permit = await a.reserveSlot(ctx, new AbortController().signal);
    const pending = b.reserveSlot(ctx, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 1500)); // 2.5 TTLs
    expect(await state(pending)).toBe('pending');
    a.releaseSlot({ permit });
    await pending;
    await b.releaseAll();
  });

  it('an aborted reservation rejects with the abort reason and leaves no lease behind', async () => {
    const m = model();
    const a = new ModelSlotSupplier({ pool, model: m, limit: 1, pollMs: 50 });
    const b = new ModelSlotSupplier({ pool, model: m, limit: 1, pollMs: 50 });
    const permit = await a.reserveSlot(ctx, new AbortController().signal);
    const ac = new AbortController();
    const pending = b.reserveSlot(ctx, ac.signal);
    const reason = new Error('worker shutting down');
    ac.abort(reason);
    await expect(pending).rejects.toBe(reason);
    a.releaseSlot({ permit });
    await expect.poll(() => leasedSlots(pool, m)).toBe(0);
    expect(b.held).toBe(0);
  });

  it('a lease released while a reservation here waits is handed to it: same lease, no new one taken', async () => {
    const m = model();
    const a = new ModelSlotSupplier({ pool, model: m, limit: 1, pollMs: 50 });
    const first = (await a.reserveSlot(ctx, new AbortController().signal)) as { token: string };
    const next = a.reserveSlot(ctx, new AbortController().signal);
    expect(await state(next)).toBe('pending');
    a.releaseSlot({ permit: first as never });
    // A lease taken from the database always has a fresh token: the same one means it was handed over.
    expect(await next).toMatchObject({ slot: 0, token: first.token });
    const { rows } = await pool.query('SELECT holder FROM model_slots WHERE model = $1', [m]);
    expect(rows[0].holder).toBe(first.token);
    await a.releaseAll();
    expect(await leasedSlots(pool, m)).toBe(0);
  });

  it("a released lease stays this process's spare for the next reservation, then goes back to the database", async () => {
    const m = model();
    const a = new ModelSlotSupplier({ pool, model: m, limit: 1, pollMs: 50, spareMs: 400 });
    const b = new ModelSlotSupplier({ pool, model: m, limit: 1, pollMs: 50 });
    const first = (await a.reserveSlot(ctx, new AbortController().signal)) as { token: string };
    a.releaseSlot({ permit: first as never });
    const again = (await a.reserveSlot(ctx, new AbortController().signal)) as { token: string };
    expect(again.token).toBe(first.token);
    a.releaseSlot({ permit: again as never });
    expect(a.held).toBe(1);
    // Another process waits while the spare is kept, and gets the slot once it is given back.
    const other = b.reserveSlot(ctx, new AbortController().signal);
    expect(await other).toMatchObject({ slot: 0 });
    expect(a.held).toBe(0);
    await b.releaseAll();
    expect(await leasedSlots(pool, m)).toBe(0);
  });

  it('with spareMs 0 a released lease goes back to the database at once', async () => {
    const m = model();
    const a = new ModelSlotSupplier({ pool, model: m, limit: 1, pollMs: 50, spareMs: 0 });
    a.releaseSlot({ permit: await a.reserveSlot(ctx, new AbortController().signal) });
    expect(a.held).toBe(0);
    await expect.poll(() => leasedSlots(pool, m)).toBe(0);
  });

  it('a lease found taken by another holder is not handed on: released, the next reservation waits for a new one', async () => {
    const m = model();
    const a = new ModelSlotSupplier({ pool, model: m, limit: 1, ttlMs: 300, pollMs: 50 });
    const first = (await a.reserveSlot(ctx, new AbortController().signal)) as { token: string };
    // Another process took the row (as after a pause longer than the TTL): the next renewal sees it
    // (renewals every 100 ms; a second leaves room for a loaded machine).
    await pool.query("UPDATE model_slots SET holder = 'other-worker', expires_at = now() + interval '1 hour' WHERE model = $1", [m]);
    await new Promise((r) => setTimeout(r, 1000));
    a.releaseSlot({ permit: first as never });
    expect(a.held).toBe(0);
    const next = a.reserveSlot(ctx, new AbortController().signal);
    expect(await state(next)).toBe('pending');
    await pool.query('UPDATE model_slots SET holder = NULL, expires_at = NULL WHERE model = $1', [m]);
    expect(((await next) as { token: string }).token).not.toBe(first.token);
    await a.releaseAll();
  });
});
