import { ApplicationFailure } from '@temporalio/common';
import { expect } from 'vitest';

/** What `p` rejects with; the test fails if `p` resolves instead. */
export async function rejectionOf<E = Error>(p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (err) {
    return err as E;
  }
  throw new Error('expected a failure, got success');
}

/** What `p` rejects with, asserted to be an ApplicationFailure (an activity's classified error). */
export async function applicationFailureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await rejectionOf<unknown>(p);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}
