import { accessSync, constants } from 'node:fs';
import { execa } from 'execa';

// Debian packages for a rootful podman with runc: verified on this machine kind from a clean
// state. crun is not enough (it refuses the hybrid cgroup v1/v2 layout), hence runc.

export const PODMAN_PACKAGES = ['podman', 'runc', 'netavark', 'aardvark-dns', 'catatonit', 'iptables'];
/** Shell for the locally built base images (FROM scratch: nothing else is in them). */
export const IMAGE_PACKAGES = ['busybox-static'];
export const DOCKERD_PACKAGES = ['docker.io'];

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function missingPackages(pkgs: string[]): Promise<string[]> {
  const r = await execa('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\n', ...pkgs], { reject: false });
  const installed = new Set(
    r.stdout
      .split('\n')
      .filter((l) => l.endsWith(' installed'))
      .map((l) => l.split(' ')[0]),
  );
  return pkgs.filter((p) => !installed.has(p));
}

/**
 * Installs the packages that are missing with apt-get, running `apt-get update` first only when
 * apt does not know one of them. Waits for another apt to release its lock rather than failing.
 */
export async function ensureDebianPackages(pkgs: string[], log: (m: string) => void): Promise<void> {
  if (!isExecutable('/usr/bin/dpkg-query') || !isExecutable('/usr/bin/apt-get')) {
    throw new Error(
      `cannot install ${pkgs.join(' ')}: this is not a Debian-like system (no apt-get). Install them yourself, or point DOCKER_HOST at a Docker daemon.`,
    );
  }
  const missing = await missingPackages(pkgs);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `missing packages ${missing.join(' ')}; installing them needs root (sudo apt-get install -y --no-install-recommends ${missing.join(' ')}), or set DOCKER_HOST to a Docker daemon you can use`,
    );
  }
  const known = await execa('apt-cache', ['policy', ...missing], { reject: false });
  const candidates = (known.stdout.match(/Candidate: (?!\(none\))/g) ?? []).length;
  if (candidates < missing.length) {
    log('apt-get update (a package is unknown to apt)...');
    await execa('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update'], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  log(`apt-get install ${missing.join(' ')}...`);
  const r = await execa('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', ...missing], {
    env: { DEBIAN_FRONTEND: 'noninteractive' },
    reject: false,
    all: true,
  });
  if (r.exitCode !== 0)
    throw new Error(
      `apt-get install ${missing.join(' ')} failed (exit ${r.exitCode}):\n${(r.all ?? '').split('\n').slice(-15).join('\n')}`,
    );
}
