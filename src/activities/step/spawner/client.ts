import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { SETPRIV } from '../setpriv.js';
import { shLauncherArgv } from '../launcher/launcher.js';
import { nativeSpawner } from './native.js';

// The worker's side of the step spawner: one helper per worker process, started on first use,
// restarted on the next spawn if it died. The helper is the compiled shepherd-spawn.c where the
// machine has a C compiler, else helper.mjs (with the sh launcher); both speak the same protocol.
// A helper that dies takes the programs it started with it (PDEATHSIG); their steps see the
// program killed by SIGKILL, retryable, and executeStep still stops what is left of each group.

/** In the watchdog's command line, by which a step's watchdog is told from the program's processes. */
export const WATCHDOG_TAG = 'shepherd-step-watchdog';

/**
 * How a program ended. groupGone: the spawner saw nothing but the watchdog left in the program's
 * session and killed it, so its group is gone (only the compiled spawner can tell; false from the Node helper).
 */
export interface ProgramExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  groupGone?: boolean;
}

export interface SpawnedProgram {
  pid: number;
  /** The program's start time in clock ticks since boot, when the spawner read it (the compiled one does). */
  startTime?: number;
  stdout: Socket;
  stderr: Socket;
  /** fd 3 of the program: the watchdog's lifeline. */
  lifeline: Socket;
  exited: Promise<ProgramExit>;
}

interface Pending {
  pipes: Partial<Record<1 | 2 | 3, Socket>>;
  resolve: (p: SpawnedProgram) => void;
  reject: (err: Error) => void;
  onExit?: (exit: ProgramExit) => void;
  started: boolean;
}

type HelperMessage =
  | { op: 'pipe'; id: number; fd: 1 | 2 | 3 }
  | { op: 'spawned'; id: number; pid: number; startTime?: number }
  | { op: 'failed'; id: number; message: string }
  | ({ op: 'exit'; id: number } & ProgramExit);

const HELPER = fileURLToPath(new URL('./helper.mjs', import.meta.url));
export class StepSpawner {
  private helper: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** Pid of the running helper, if one runs. */
  get pid(): number | undefined {
    return this.helper?.pid;
  }

  /**
   * Starts `file args` as the leader of a new session and process group, guarded by a watchdog
   * (fd 3 of the program is its lifeline); resolves once the program runs.
   */
  async spawn(file: string, args: readonly string[], opts: { cwd: string; env: Record<string, string> }): Promise<SpawnedProgram> {
    const native = await nativeSpawner();
    const helper = this.ensureHelper(native);
    const id = this.nextId++;
    const message = native ? { op: 'spawn', id, b: encodeRequest(file, args, opts) } : helperRequest(id, file, args, opts);
    return new Promise<SpawnedProgram>((resolve, reject) => {
      this.pending.set(id, { pipes: {}, resolve, reject, started: false });
      this.holdOpen();
      helper.send(message, (err) => {
        if (err) this.fail(id, new Error(`step spawner unreachable: ${err.message}`));
      });
    });
  }

  private ensureHelper(native: string | undefined): ChildProcess {
    if (this.helper && this.helper.exitCode === null && this.helper.signalCode === null && this.helper.connected) return this.helper;
    // The compiled spawner arms its own parent-death signal; the Node helper gets it from setpriv.
    const [cmd, args] = native
      ? [native, [WATCHDOG_TAG]]
      : SETPRIV
        ? [SETPRIV, ['--pdeathsig', 'KILL', '--', process.execPath, HELPER]]
        : [process.execPath, [HELPER]];
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
    else if (m.op === 'spawned') this.started(m.id, p, m.pid, m.startTime);
    else if (m.op === 'exit') this.exited(m.id, p, { exitCode: m.exitCode, signal: m.signal, groupGone: m.groupGone === true });
  }

  private started(id: number, p: Pending, pid: number, startTime: number | undefined): void {
    const { 1: stdout, 2: stderr, 3: lifeline } = p.pipes;
    if (!stdout || !stderr || !lifeline) {
      this.fail(id, new Error('step spawner sent incomplete pipes'));
      return;
    }
    p.started = true;
    const exited = new Promise<ProgramExit>((resolve) => (p.onExit = resolve));
    p.resolve({ pid, ...(startTime ? { startTime } : {}), stdout, stderr, lifeline, exited });
  }

  private exited(id: number, p: Pending, exit: ProgramExit): void {
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

/** The Node helper's request: it starts the sh launcher, which starts the program. */
function helperRequest(id: number, file: string, args: readonly string[], opts: { cwd: string; env: Record<string, string> }) {
  const [cmd, cmdArgs] = shLauncherArgv(WATCHDOG_TAG, file, args);
  return { op: 'spawn', id, file: cmd, args: cmdArgs, cwd: opts.cwd, env: opts.env };
}

/**
 * The compiled spawner's request: NUL-terminated strings (file, cwd, argc, args, envc, entries),
 * base64 so that its reader needs no JSON string decoder.
 */
export function encodeRequest(file: string, args: readonly string[], opts: { cwd: string; env: Record<string, string> }): string {
  const env = Object.entries(opts.env).map(([k, v]) => `${k}=${v}`);
  const fields = [file, opts.cwd, String(args.length), ...args, String(env.length), ...env];
  const bad = fields.find((f) => f.includes('\0'));
  // As Node's own spawn: a NUL cannot pass through exec, and here it would shift every field.
  if (bad !== undefined) throw new Error(`a program's file, args, cwd and env must not contain NUL bytes: ${JSON.stringify(bad)}`);
  return Buffer.from(fields.join('\0') + '\0', 'utf8').toString('base64');
}

let shared: StepSpawner | undefined;

/** The process-wide spawner. */
export function stepSpawner(): StepSpawner {
  return (shared ??= new StepSpawner());
}
