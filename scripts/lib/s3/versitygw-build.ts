import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { cacheRoot, goBinary, isExecutable } from '../temporal-cli.js';

// The S3-compatible server the artifact-store tests and `npm run s3` use: versitygw, built from
// its Go module into the same cache as the Temporal CLI (no image registry, no downloads here).
export const VERSITYGW_VERSION = '1.8.0';
const MODULE = 'github.com/versity/versitygw/cmd/versitygw';

export function versitygwCacheDir(): string {
  return path.join(cacheRoot(), `versitygw-${VERSITYGW_VERSION}`);
}

/** Finds versitygw (VERSITYGW_BIN, else the cache), building the pinned release with Go when missing. */
export async function ensureVersitygw(log: (msg: string) => void = (m) => console.error(m)): Promise<string> {
  const explicit = process.env.VERSITYGW_BIN;
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`VERSITYGW_BIN=${explicit} is not an executable file`);
    return explicit;
  }
  const bin = path.join(versitygwCacheDir(), 'versitygw');
  if (isExecutable(bin)) return bin;
  const go = await goBinary();
  if (!go) {
    throw new Error(
      `versitygw ${VERSITYGW_VERSION} is not in ${versitygwCacheDir()} and Go is not installed to build it. ` +
        'Install Go 1.24+ (https://go.dev/dl/), or set VERSITYGW_BIN to a versitygw binary.',
    );
  }
  mkdirSync(versitygwCacheDir(), { recursive: true });
  log(`Building versitygw ${VERSITYGW_VERSION} with Go into ${versitygwCacheDir()} (first run only; about a minute)...`);
  await execa(go, ['install', `${MODULE}@v${VERSITYGW_VERSION}`], {
    env: { GOBIN: versitygwCacheDir(), CGO_ENABLED: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
    cwd: os.tmpdir(),
  });
  if (!isExecutable(bin)) throw new Error(`go install finished but ${bin} is missing`);
  return bin;
}
