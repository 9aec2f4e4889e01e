import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SETPRIV } from '../setpriv.js';

// The worker's side of the step spawner (helper.mjs): one helper per worker process, started on
// first use, restarted on the next spawn if it died. A helper that dies takes the programs it
// started with it (PDEATHSIG); their steps see the program killed by SIGKILL, retryable, and
// executeStep still stops what is left of each group.

export interface SpawnedProgram {
  pid: number;
  stdout: Socket;
  stderr: Socket;
  /** fd 3 of the program: the watchdog's lifeline. */
  lifeline: Socket;
  exited: Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>;
}

interface Pending {
  pipes: Partial<Record<1 | 2 | 3, Socket>>;
  resolve: (p: SpawnedProgram) => void;
  reject: (err: Error) => void;
  onExit?: (exit: { exitCode: number | null; signal: NodeJS.Signals | null }) => void;
  started: boolean;
}

type HelperMessage =
  | { op: 'pipe'; id: number; fd: 1 | 2 | 3 }
  | { op: 'spawned'; id: number; pid: number }
  | { op: 'failed'; id: number; message: string }
  | { op: 'exit'; id: number; exitCode: number | null; signal: NodeJS.Signals | null };

const HELPER = fileURLToPath(new URL('./helper.mjs', import.meta.url));
export class StepSpawner {
  private helper: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** Pid of the running helper, if one runs. */
  get pid(): number | undefined {
    return this.helper?.pid;
  }

  spawn(file: string, args: readonly string[], opts: { cwd: string; env: Record<string, string> }): Promise<SpawnedProgram> {
    const helper = this.ensureHelper();
    const id = this.nextId++;
    return new Promise<SpawnedProgram>((resolve, reject) => {
      this.pending.set(id, { pipes: {}, resolve, reject, started: false });
      this.holdOpen();
      helper.send({ op: 'spawn', id, file, args, cwd: opts.cwd, env: opts.env }, (err) => {
        if (err) this.fail(id, new Error(`step spawner unreachable: ${err.message}`));
      });
    });
  }

  private ensureHelper(): ChildProcess {
    if (this.helper && this.helper.exitCode === null && this.helper.signalCode === null && this.helper.connected) return this.helper;
    const [cmd, args] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', process.execPath, HELPER]] : [process.execPath, [HELPER]];
    // No inherited env: NODE_OPTIONS (loaders, profilers) and worker markers do not belong here;
    // and its cwd is no data directory (each program gets its own cwd anyway).
    const helper = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: {}, cwd: '/' });
    helper.on('message', (m: HelperMessage, handle: unknown) => this.onMessage(m, handle as Socket | undefined));
    helper.once('exit', () => this.onHelperExit(helper));
    helper.on('error', () => undefined);
    this.helper = helper;
    this.holdOpen();
    return helper;
  }

  private onMessage(m: HelperMessage, handle: Socket | undefined): void {
    const p = this.pending.get(m.id);
    if (!p) {
      handle?.destroy();
      return;
    }
    if (m.op === 'pipe' && handle) p.pipes[m.fd] = handle;
    else if (m.op === 'failed') this.fail(m.id, new Error(m.message));
    else if (m.op === 'spawned') this.started(m.id, p, m.pid);
    else if (m.op === 'exit') this.exited(m.id, p, { exitCode: m.exitCode, signal: m.signal });
  }

  private started(id: number, p: Pending, pid: number): void {
    const { 1: stdout, 2: stderr, 3: lifeline } = p.pipes;
    if (!stdout || !stderr || !lifeline) {
      this.fail(id, new Error('step spawner sent incomplete pipes'));
      return;
    }
    p.started = true;
    const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null }>((resolve) => (p.onExit = resolve));
    p.resolve({ pid, stdout, stderr, lifeline, exited });
  }

  private exited(id: number, p: Pending, exit: { exitCode: number | null; signal: NodeJS.Signals | null }): void {
    this.pending.delete(id);
    this.holdOpen();
    p.onExit?.(exit);
  }

  private fail(id: number, err: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.holdOpen();
    for (const s of Object.values(p.pipes)) s?.destroy();
    if (p.started) p.onExit?.({ exitCode: null, signal: 'SIGKILL' });
    else p.reject(err);
  }

  private onHelperExit(helper: ChildProcess): void {
    if (this.helper === helper) this.helper = undefined;
    // Its programs died with it (PDEATHSIG): report them killed, and fail spawns not yet done.
    for (const id of [...this.pending.keys()]) this.fail(id, new Error('step spawner exited before starting the program'));
  }

  // The helper must not keep an idle worker (or a test process) alive, but a reply it still
  // owes must be received.
  private holdOpen(): void {
    const helper = this.helper;
    if (!helper) return;
    const channel = helper.channel as { ref(): void; unref(): void } | undefined;
    if (this.pending.size > 0) {
      helper.ref();
      channel?.ref();
    } else {
      helper.unref();
      channel?.unref();
    }
  }
}

let shared: StepSpawner | undefined;

/** The process-wide spawner. */
export function stepSpawner(): StepSpawner {
  return (shared ??= new StepSpawner());
}
