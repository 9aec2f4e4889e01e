import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { WORKER_ENV, WORKER_NODE_FLAGS } from '../../src/workers/memory-settings.js';

const WORKER_MAIN = fileURLToPath(new URL('../../src/workers/main.ts', import.meta.url));
/** The compiled worker `npm run build` writes: what the package and the container image run. */
const BUILT_WORKER_MAIN = fileURLToPath(new URL('../../dist/workers/main.js', import.meta.url));

export interface WorkerProcess {
  pid: number;
  /** Resolves once the worker logged "worker started" (it is polling). */
  ready: Promise<void>;
  /** Settles when the process has exited. */
  exited: Promise<unknown>;
  kill(signal: NodeJS.Signals): void;
  /** The last 20 kB the worker printed, for error messages. */
  output(): string;
}

/**
 * Runs the real worker entry point (`npm run worker`, with its memory settings) as its own OS
 * process, configured only by environment like a deployment, so tests and benchmarks can SIGKILL
 * it like a crashed machine.
 * `node --import tsx`, not the tsx binary: that one relays to a child node, and a SIGKILL of the
 * relay would leave the real worker running. `built`: the compiled worker from `npm run build`
 * instead (what the package runs), for measurements where tsx's own memory would distort them.
 */
export function spawnWorkerProcess(env: Record<string, string>, opts: { built?: boolean } = {}): WorkerProcess {
  const args = [...WORKER_NODE_FLAGS, ...(opts.built ? [BUILT_WORKER_MAIN] : ['--import', 'tsx', WORKER_MAIN])];
  const child = execa(process.execPath, args, { env: { ...WORKER_ENV, ...env }, reject: false, stdin: 'ignore', buffer: false });
  let seen = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-20_000);
      if (seen.includes('worker started')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void child.then((r) => reject(new Error(`worker exited before it was ready (code ${r.exitCode}): ${seen.slice(-2000)}`)));
  });
  ready.catch(() => undefined);
  return { pid: child.pid!, ready, exited: child, kill: (signal) => child.kill(signal), output: () => seen };
}
