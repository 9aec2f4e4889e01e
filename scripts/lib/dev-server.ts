import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { execa } from 'execa';
import { freePort } from './free-port.js';
import { LOW_LATENCY_DYNAMIC_CONFIG } from './server-tuning.js';
import { ensureTemporalCli } from './temporal-cli.js';

const SETPRIV = '/usr/bin/setpriv';

export const SEARCH_ATTRIBUTES = ['PipelineKind', 'PipelineId', 'Target', 'Stage'] as const;

export interface DevServerOptions {
  /** SQLite file; omitted means in-memory (state lost on stop). */
  dbFile?: string;
  port?: number;
  uiPort?: number;
  headless?: boolean;
  logFile?: string;
  namespace?: string;
  /** Extra `--dynamic-config-value KEY=VALUE` settings (values JSON-encoded by the server). */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** false: the dev server's own defaults, without LOW_LATENCY_DYNAMIC_CONFIG (the bench's baseline). */
  tuned?: boolean;
}

export interface DevServer {
  address: string;
  port: number;
  uiPort?: number;
  uiUrl?: string;
  pid: number;
  stop(): Promise<void>;
}

class ExitedDuringStartup extends Error {
  constructor() {
    super('Temporal dev server exited during start-up (see its log)');
  }
}

function waitForPort(port: number, timeoutMs: number, child: Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let exited = false;
    child.catch(() => undefined).finally(() => (exited = true));
    const attempt = () => {
      if (exited) return reject(new ExitedDuringStartup());
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`Temporal dev server did not listen on ${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

// The port opens before the frontend serves requests; wait until the namespace answers.
async function waitForNamespace(address: string, namespace: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const connection = await Connection.connect({ address });
  try {
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`Temporal namespace ${namespace} not ready: ${(err as Error).message}`, { cause: err });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await connection.close();
  }
}

/** Starts `temporal server start-dev` with Shepherd's search attributes registered. */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  // A port picked here can be taken before the server binds it: a server that exits during
  // start-up on ports it was not given gets new ones, twice.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      if (!(err instanceof ExitedDuringStartup) || opts.port !== undefined || opts.uiPort !== undefined || attempt >= 3) throw err;
    }
  }
}

async function startOnce(opts: DevServerOptions): Promise<DevServer> {
  const bin = await ensureTemporalCli();
  const port = opts.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  args.push('--namespace', opts.namespace ?? 'default');
  if (opts.dbFile) {
    mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  let uiPort: number | undefined;
  if (opts.headless ?? true) args.push('--headless');
  else {
    uiPort = opts.uiPort ?? (await freePort());
    args.push('--ui-port', String(uiPort));
  }
  for (const name of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${name}=Keyword`);
  // Without this, fast sweeps hit the dev server's default per-namespace RPS limits.
  args.push('--dynamic-config-value', 'frontend.namespaceRPS=10000', '--dynamic-config-value', 'frontend.rps=10000');
  const dynamicConfig = { ...(opts.tuned === false ? {} : LOW_LATENCY_DYNAMIC_CONFIG), ...opts.dynamicConfig };
  for (const [key, value] of Object.entries(dynamicConfig)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);

  const out = opts.logFile ? { file: opts.logFile, append: true } : 'ignore';
  // A parent-death signal, so a killed `npm start` or test run never leaves a server holding ports.
  const [file, argv]: [string, string[]] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'TERM', '--', bin, ...args]] : [bin, args];
  const child = execa(file, argv, {
    stdin: 'ignore',
    stdout: out,
    stderr: out,
    detached: true,
    reject: false,
  });
  await waitForPort(port, 60_000, child);
  await waitForNamespace(`127.0.0.1:${port}`, opts.namespace ?? 'default', 60_000);
  const pid = child.pid!;
  return {
    address: `127.0.0.1:${port}`,
    port,
    uiPort,
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined,
    pid,
    async stop() {
      if (child.exitCode !== null) return;
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, 10_000);
      await child;
      clearTimeout(timer);
    },
  };
}
