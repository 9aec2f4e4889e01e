import type { ChaosStack } from './stack.js';

// The faults: a worker SIGKILLed every killEveryMs (a replacement started at once, so work
// always has somewhere to go) and the Temporal server stopped and restarted once, mid-run.

export interface FaultLog {
  kills: number;
  serverRestarts: number;
  errors: string[];
}

export function startFaults(
  stack: ChaosStack,
  opts: { killEveryMs: number; maxKills: number; restartAtMs?: number; log: (l: string) => void },
) {
  const faults: FaultLog = { kills: 0, serverRestarts: 0, errors: [] };
  let busy = Promise.resolve();
  const serial = (fn: () => Promise<void>) => (busy = busy.then(fn).catch((e: Error) => void faults.errors.push(e.message)));
  // Counted when scheduled: ticks queue behind a slow server restart, and each would kill.
  let scheduled = 0;
  const killTimer = setInterval(() => {
    if (scheduled >= opts.maxKills) return;
    scheduled++;
    void serial(async () => {
      const live = stack.workers.filter((w) => w.alive);
      const victim = live[faults.kills % Math.max(1, live.length)];
      if (!victim) return;
      victim.kill('SIGKILL');
      await victim.exited;
      faults.kills++;
      opts.log(`chaos: SIGKILLed worker ${victim.pid} (kill ${faults.kills}), starting a replacement`);
      await stack.spawnWorker().ready;
    });
  }, opts.killEveryMs);
  const restartTimer =
    opts.restartAtMs === undefined
      ? undefined
      : setTimeout(
          () =>
            void serial(async () => {
              opts.log('chaos: stopping the Temporal server');
              await stack.restartServer();
              faults.serverRestarts++;
              opts.log('chaos: Temporal server restarted on the same SQLite file');
            }),
          opts.restartAtMs,
        );
  return {
    faults,
    async stop() {
      clearInterval(killTimer);
      if (restartTimer) clearTimeout(restartTimer);
      await busy;
    },
  };
}
