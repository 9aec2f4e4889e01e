import { existsSync, mkdirSync, accessSync, constants } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';

export const TEMPORAL_CLI_VERSION = '1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

// Outside the repo so a fresh clone (and CI) reuses the multi-minute Go build.
export function cacheRoot(): string {
  const base = process.env.SHEPHERD_CACHE_DIR ?? process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'shepherd');
}

export function cacheDir(): string {
  return path.join(cacheRoot(), `temporal-${TEMPORAL_CLI_VERSION}`);
}

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function onPath(cmd: string): Promise<string | undefined> {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const file = path.join(dir, cmd);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

export async function goBinary(): Promise<string | undefined> {
  return (await onPath('go')) ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

/** Finds the Temporal CLI, building the pinned release with Go when it is missing. */
export async function ensureTemporalCli(log: (msg: string) => void = (m) => console.error(m)): Promise<string> {
  const explicit = process.env.TEMPORAL_CLI;
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`TEMPORAL_CLI=${explicit} is not an executable file`);
    return explicit;
  }
  const cached = path.join(cacheDir(), 'temporal');
  if (isExecutable(cached)) return cached;
  const fromPath = await onPath('temporal');
  if (fromPath) return fromPath;

  const go = await goBinary();
  if (go) {
    mkdirSync(cacheDir(), { recursive: true });
    log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go into ${cacheDir()} (first run only; takes a few minutes)...`);
    await execa(
      go,
      [
        'install',
        '-ldflags',
        `-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`,
        `${MODULE}@v${TEMPORAL_CLI_VERSION}`,
      ],
      { env: { GOBIN: cacheDir(), CGO_ENABLED: '0' }, stdio: ['ignore', 'inherit', 'inherit'], cwd: os.tmpdir() },
    );
    if (!isExecutable(cached)) throw new Error(`go install finished but ${cached} is missing`);
    return cached;
  }

  if (await downloadRelease(cached, log)) return cached;
  throw new Error(
    'The Temporal CLI was not found and could not be built. Install Go 1.23+ (https://go.dev/dl/) so that ' +
      `"go install ${MODULE}@v${TEMPORAL_CLI_VERSION}" can run, or install the Temporal CLI ` +
      '(https://docs.temporal.io/cli#install) and put it on PATH or set TEMPORAL_CLI to its path.',
  );
}

async function downloadRelease(target: string, log: (msg: string) => void): Promise<boolean> {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const url = `https://github.com/temporalio/cli/releases/download/v${TEMPORAL_CLI_VERSION}/temporal_cli_${TEMPORAL_CLI_VERSION}_${process.platform}_${arch}.tar.gz`;
  try {
    log(`Go not found; downloading ${url}`);
    const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) return false;
    mkdirSync(path.dirname(target), { recursive: true });
    const archive = `${target}.tar.gz`;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(archive, Buffer.from(await res.arrayBuffer()));
    await execa('tar', ['-xzf', archive, '-C', path.dirname(target), 'temporal']);
    return existsSync(target);
  } catch (err) {
    log(`download failed: ${(err as Error).message}`);
    return false;
  }
}
