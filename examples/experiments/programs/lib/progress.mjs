// Progress goes to stdout as free text on purpose: Shepherd reads results only from the
// result file, so chatty programs (and libraries printing to stdout) cannot corrupt them.
import { setTimeout as sleep } from 'node:timers/promises';

export function createLogger(model) {
  return (message) => process.stdout.write(`[${model}] ${message}\n`);
}

/** Stretches a run for demos and tests (--sleep-ms), reporting as it goes. */
export async function simulateWork(totalMs, log) {
  if (totalMs <= 0) return;
  const chunk = Math.min(500, Math.max(50, Math.ceil(totalMs / 20)));
  let done = 0;
  log(`simulated work: ${totalMs} ms`);
  while (done < totalMs) {
    const step = Math.min(chunk, totalMs - done);
    await sleep(step);
    done += step;
    log(`simulated work: ${done}/${totalMs} ms`);
  }
}
