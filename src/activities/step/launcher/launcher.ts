import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SETPRIV } from '../setpriv.js';

// How a step's group leader starts: the compiled shepherd-launch (one exec: parent-death signal,
// watchdog, program), built from its C source with the machine's C compiler on first use and
// cached by the source's hash; or, where there is no compiler, the same thing from stock tools
// (setpriv, then a sh that forks the watchdog and execs the program: three execs, which cost a
// trivial step about 0.9 ms more CPU). SHEPHERD_STEP_LAUNCHER=sh forces the second.

/** The sh launcher's script: the watchdog in a subshell, then the program in place of the sh. */
const SH_LAUNCHER = ['(trap "" TERM INT HUP QUIT; read -r _ <&3; kill -KILL 0) &', 'exec "$@" 3<&-'].join('\n');

const SOURCE = fileURLToPath(new URL('./shepherd-launch.c', import.meta.url));

export type LauncherKind = 'compiled' | 'sh';

export interface Launcher {
  kind: LauncherKind;
  /** The command and args that start `file args` with the watchdog tagged `tag`. */
  argv(tag: string, file: string, args: readonly string[]): [string, string[]];
}

const SH: Launcher = {
  kind: 'sh',
  argv: (tag, file, args) => {
    const sh = ['-c', SH_LAUNCHER, tag, file, ...args];
    return SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', '/bin/sh', ...sh]] : ['/bin/sh', sh];
  },
};

const compiledLauncher = (binary: string): Launcher => ({ kind: 'compiled', argv: (tag, file, args) => [binary, [tag, file, ...args]] });

function cacheDir(): string {
  const base = process.env.SHEPHERD_CACHE_DIR ?? process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'shepherd', 'launcher');
}

const isExecutable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

// Linked statically where the C library allows it: every step execs the launcher, and a static
// one maps no shared libraries (here 3.5 ms instead of 4.5 ms of CPU per exec, most of it the
// kernel's). Dynamically where there is no static libc.
const CC_FLAGS = [['-O2', '-static'], ['-O2']];

async function compile(out: string): Promise<boolean> {
  for (const flags of CC_FLAGS) {
    const cc = await execa('cc', [...flags, '-o', out, SOURCE], { reject: false, timeout: 60_000 });
    if (cc.exitCode === 0) return true;
  }
  return false;
}

/** Compiles the launcher into the cache (atomically: concurrent workers each rename a whole file). */
async function build(): Promise<string | undefined> {
  const source = readFileSync(SOURCE);
  const dir = path.join(cacheDir(), createHash('sha256').update(source).update(JSON.stringify(CC_FLAGS)).digest('hex').slice(0, 16));
  const binary = path.join(dir, 'shepherd-launch');
  if (!isExecutable(binary)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${binary}.${process.pid}.tmp`;
    if (!(await compile(tmp))) {
      rmSync(tmp, { force: true });
      return undefined;
    }
    renameSync(tmp, binary);
  }
  // It must also run here (a cache on a noexec mount would not): its usage message proves it.
  const probe = await execa(binary, [], { reject: false, timeout: 10_000 });
  return probe.exitCode === 2 && probe.stderr.includes('usage: shepherd-launch') ? binary : undefined;
}

let chosen: Promise<Launcher> | undefined;

/** The launcher this process uses, decided once. */
export function stepLauncher(): Promise<Launcher> {
  chosen ??=
    process.env.SHEPHERD_STEP_LAUNCHER === 'sh'
      ? Promise.resolve(SH)
      : build().then(
          (b) => (b ? compiledLauncher(b) : SH),
          () => SH,
        );
  return chosen;
}
