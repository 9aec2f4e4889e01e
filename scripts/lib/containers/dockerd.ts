import path from 'node:path';
import { ensureDebianPackages, DOCKERD_PACKAGES } from './install.js';
import { ensureDaemon } from './service.js';

// Debian's dockerd, for proving the container code against Docker as well as podman. Its own
// socket and data root, so it never meets a system Docker; no iptables or default bridge
// (this machine's kernel/netns may not allow them): containers publish ports through
// docker-proxy on the user-created networks Shepherd makes anyway.

export const DOCKERD_SOCKET = '/run/shepherd/dockerd.sock';

export async function ensureDockerd(opts: { dataRoot: string; log: (m: string) => void }): Promise<{ dockerHost: string; pid?: number }> {
  await ensureDebianPackages(DOCKERD_PACKAGES, opts.log);
  const url = `unix://${DOCKERD_SOCKET}`;
  const r = await ensureDaemon(
    {
      url,
      command: 'dockerd',
      args: [
        '-H',
        url,
        '--data-root',
        opts.dataRoot,
        '--exec-root',
        path.join(path.dirname(DOCKERD_SOCKET), 'dockerd-exec'),
        '--pidfile',
        path.join(path.dirname(DOCKERD_SOCKET), 'dockerd.pid'),
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
      ],
      logFile: path.join(opts.dataRoot, 'dockerd.log'),
      startTimeoutMs: 60_000,
    },
    opts.log,
  );
  return { dockerHost: url, pid: r.pid };
}
