import { createHash } from 'node:crypto';
import { accessSync, constants, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

// The compiled step spawner (shepherd-spawn.c), built with the machine's C compiler on first use
// and cached by its source's hash. Where there is no compiler (or SHEPHERD_STEP_LAUNCHER=sh), the
// worker uses the Node helper with setpriv and sh instead (helper.mjs, launcher/launcher.ts).

const SOURCE = fileURLToPath(new URL('./shepherd-spawn.c', import.meta.url));

function cacheDir(): string {
  const base = process.env.SHEPHERD_CACHE_DIR ?? process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'shepherd', 'spawner');
}

const isExecutable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

// Linked statically where the C library allows it: no shared libraries to map when it starts,
// and a smaller process to fork. Dynamically where there is no static libc.
const CC_FLAGS = [['-O2', '-static'], ['-O2']];

async function compile(out: string): Promise<boolean> {
  for (const flags of CC_FLAGS) {
    const cc = await execa('cc', [...flags, '-o', out, SOURCE], { reject: false, timeout: 60_000 });
    if (cc.exitCode === 0) return true;
  }
  return false;
}

/** Compiles the spawner into the cache (atomically: concurrent workers each rename a whole file). */
async function build(): Promise<string | undefined> {
  const source = readFileSync(SOURCE);
  const dir = path.join(cacheDir(), createHash('sha256').update(source).update(JSON.stringify(CC_FLAGS)).digest('hex').slice(0, 16));
  const binary = path.join(dir, 'shepherd-spawn');
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
  return probe.exitCode === 2 && probe.stderr.includes('usage: shepherd-spawn') ? binary : undefined;
}

let chosen: Promise<string | undefined> | undefined;

/** The compiled spawner's path, or undefined when this process uses the Node helper; decided once. */
export function nativeSpawner(): Promise<string | undefined> {
  chosen ??= process.env.SHEPHERD_STEP_LAUNCHER === 'sh' ? Promise.resolve(undefined) : build().catch(() => undefined);
  return chosen;
}
