/** Size of a chaos run. Defaults fit a 2-core machine in a few minutes. */
export interface ChaosOptions {
  /** Wall-clock budget for the pipeline phase (the drain afterwards is bounded separately). */
  minutes: number;
  pipelines: number;
  /** Generated malformed inputs per workflow type. */
  inputs: number;
  workers: number;
  /** SIGKILL one worker this often; at most maxKills kills. */
  killEveryMs: number;
  maxKills: number;
  restartServer: boolean;
  drainMs: number;
  log: (line: string) => void;
}

export const DEFAULTS: ChaosOptions = {
  minutes: 3,
  pipelines: 24,
  inputs: 200,
  workers: 2,
  killEveryMs: 10_000,
  maxKills: 12,
  restartServer: true,
  drainMs: 120_000,
  log: (line) => console.log(line),
};

export const USAGE = `Usage: npm run chaos -- [options]

Runs a mix of real pipelines (experimentBatch, simulationJob, trainingQueue, conversationBatch,
analysisPipeline) on loopback while SIGKILLing workers and restarting the Temporal server once,
plus generated malformed inputs for every workflow type; prints a report and exits 0 only on
zero lost, zero duplicates, zero strays and zero workflow-task loops.

  --minutes N          time for launching pipelines and faults (default ${DEFAULTS.minutes})
  --pipelines N        pipelines to start (default ${DEFAULTS.pipelines})
  --inputs N           malformed inputs per workflow type (default ${DEFAULTS.inputs})
  --workers N          worker processes (default ${DEFAULTS.workers})
  --kill-every S       SIGKILL a worker every S seconds (default ${DEFAULTS.killEveryMs / 1000})
  --no-server-restart  leave the Temporal server running
  --help               this text`;

export function parseArgs(argv: string[]): ChaosOptions {
  const opts = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    const n = Number(value);
    if (flag === '--no-server-restart') opts.restartServer = false;
    else if (!Number.isFinite(n) || n < 0) throw new Error(`chaos: ${flag} needs a non-negative number`);
    else if (flag === '--minutes') opts.minutes = n;
    else if (flag === '--pipelines') opts.pipelines = n;
    else if (flag === '--inputs') opts.inputs = n;
    else if (flag === '--workers') opts.workers = Math.max(1, n);
    else if (flag === '--kill-every') opts.killEveryMs = n * 1000;
    else throw new Error(`chaos: unknown option ${flag}`);
    if (flag !== '--no-server-restart') i++;
  }
  return opts;
}
