import { existsSync } from 'node:fs';
import { execa } from 'execa';

// Headless Chromium for the dashboard's browser tests: Debian's `chromium` package, driven by
// playwright-core through its executablePath (playwright's own browser download needs a CDN this
// machine cannot reach). Installed here, by the project, because CI and new machines have none.

export const CHROMIUM_PATH = process.env.SHEPHERD_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Flags without which Chromium hangs on a machine with no internet (update checks, first-run
 * UI, background fetches) or cannot start as root in a container (sandbox).
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

/** Installs Debian's chromium when missing; returns its path. Needs root (or passwordless apt). */
export async function ensureChromium(log: (msg: string) => void = () => undefined): Promise<string> {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  log(`${CHROMIUM_PATH} is missing: installing Debian's chromium package`);
  // Waits for another apt-get (the container set-up's) instead of failing on its lock.
  const apt = (args: string[]) =>
    execa('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], {
      env: { DEBIAN_FRONTEND: 'noninteractive' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  try {
    await apt(['install', '-y', '--no-install-recommends', 'chromium']);
  } catch {
    // A fresh machine has no package lists yet.
    await apt(['update']);
    await apt(['install', '-y', '--no-install-recommends', 'chromium']);
  }
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get installed chromium but ${CHROMIUM_PATH} does not exist`);
  return CHROMIUM_PATH;
}

// `tsx scripts/lib/browser.ts`: the install step on its own (for .ci/run and npm test's pre-step).
if (import.meta.url === `file://${process.argv[1]}`) {
  const path = await ensureChromium((m) => console.log(m));
  console.log(`chromium: ${path}`);
}
