import path from 'node:path';
import { dockerClient, dockerEndpoint, pingRuntime, DEFAULT_PODMAN_SOCKET } from '../../../src/activities/containers/client.js';
import { ensureNodeImage } from '../../../src/activities/containers/images.js';
import { configurePodman } from './configure.js';
import { ensureDebianPackages, IMAGE_PACKAGES, isExecutable, PODMAN_PACKAGES } from './install.js';
import { ensureDaemon } from './service.js';

// The whole container set-up: a runtime answering the Engine API, and the base images.
// With DOCKER_HOST set, that daemon is used as is (nothing installed); otherwise rootful podman
// from Debian, configured for this machine kind and served on DEFAULT_PODMAN_SOCKET.

export interface ContainerRuntime {
  dockerHost: string;
  kind: 'docker-host' | 'podman';
  /** Pid of the API service this call started (none when it was already answering). */
  startedPid?: number;
  nodeImage: string;
}

export async function ensureContainerRuntime(opts: { log?: (m: string) => void; dockerHost?: string } = {}): Promise<ContainerRuntime> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const explicit = opts.dockerHost ?? process.env.DOCKER_HOST;
  let runtime: Omit<ContainerRuntime, 'nodeImage'>;
  if (explicit && explicit.trim() !== '') {
    const ep = dockerEndpoint(explicit);
    await pingRuntime(dockerClient(explicit), ep, 5000);
    runtime = { dockerHost: ep.url, kind: 'docker-host' };
  } else {
    await ensureDebianPackages(PODMAN_PACKAGES, log);
    const conf = configurePodman(path.join(path.dirname(DEFAULT_PODMAN_SOCKET), 'containers.conf'), log);
    const url = `unix://${DEFAULT_PODMAN_SOCKET}`;
    const r = await ensureDaemon(
      {
        url,
        command: 'podman',
        args: ['system', 'service', '--time=0', url],
        env: conf.env,
        logFile: path.join(path.dirname(DEFAULT_PODMAN_SOCKET), 'podman-service.log'),
      },
      log,
    );
    runtime = { dockerHost: url, kind: 'podman', startedPid: r.pid };
  }
  if (!isExecutable('/bin/busybox') && !isExecutable('/usr/bin/busybox')) await ensureDebianPackages(IMAGE_PACKAGES, log);
  const node = await ensureNodeImage(dockerClient(runtime.dockerHost));
  if (node.built) log(`built ${node.image}`);
  return { ...runtime, nodeImage: node.image };
}
