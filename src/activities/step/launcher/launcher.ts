import { SETPRIV } from '../setpriv.js';

// How a step's group leader starts when the Node helper spawns it (no C compiler, or
// SHEPHERD_STEP_LAUNCHER=sh): setpriv sets the parent-death signal, then a sh forks the watchdog
// (a subshell blocked on fd 3) and execs the program in its own place. The compiled spawner
// (spawner/shepherd-spawn.c) does the same in its forked child, without these execs.

/** The sh launcher's script: the watchdog in a subshell, then the program in place of the sh. */
const SH_LAUNCHER = ['(trap "" TERM INT HUP QUIT; read -r _ <&3; kill -KILL 0) &', 'exec "$@" 3<&-'].join('\n');

/** The command and args that start `file args` with the watchdog tagged `tag`. */
export function shLauncherArgv(tag: string, file: string, args: readonly string[]): [string, string[]] {
  const sh = ['-c', SH_LAUNCHER, tag, file, ...args];
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', '/bin/sh', ...sh]] : ['/bin/sh', sh];
}
