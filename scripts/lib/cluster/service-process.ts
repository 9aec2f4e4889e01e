import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { ServiceSpec } from './config.js';

const SETPRIV = '/usr/bin/setpriv';

/** One Temporal server process (`server start --service <kind>`), restartable on the same ports. */
export interface ServiceProcess {
  spec: ServiceSpec;
  /** Current process id; undefined while stopped. */
  pid(): number | undefined;
  running(): boolean;
  start(): void;
  /** SIGTERM (the server drains and hands its shards over), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Sends a signal to the process and waits for it to exit (SIGKILL: a crashed machine). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  logFile: string;
}

export function serviceProcess(opts: { server: string; root: string; configDir: string; spec: ServiceSpec }): ServiceProcess {
  const { server, root, configDir, spec } = opts;
  const logFile = path.join(root, 'logs', `${spec.name}.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  let child: ResultPromise | undefined;

  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child!.pid!, sig);
    } catch {
      /* already gone */
    }
  };

  return {
    spec,
    logFile,
    pid: () => (alive() ? child!.pid : undefined),
    running: alive,
    start() {
      if (alive()) throw new Error(`${spec.name} is already running (pid ${child!.pid})`);
      const args = [
        '--root',
        root,
        '--config',
        path.relative(root, configDir),
        '--env',
        spec.name,
        '--allow-no-auth',
        'start',
        '--service',
        spec.kind,
      ];
      // A parent-death signal: a killed test run or `npm run cluster` never leaves a server
      // holding ports and database connections. The server handles TERM by shutting down.
      const [file, argv]: [string, string[]] = existsSync(SETPRIV)
        ? [SETPRIV, ['--pdeathsig', 'TERM', '--', server, ...args]]
        : [server, args];
      const out = { file: logFile, append: true } as const;
      child = execa(file, argv, { cwd: root, stdin: 'ignore', stdout: out, stderr: out, detached: true, reject: false });
    },
    async stop(graceMs = 15_000) {
      if (!alive()) return;
      const current = child!;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await current;
      clearTimeout(timer);
    },
    async kill(sig = 'SIGKILL') {
      if (!alive()) return;
      const current = child!;
      signal(sig);
      await current;
    },
  };
}
