import Docker from 'dockerode';

// One Docker Engine API client for Docker and podman alike (podman's `system service` speaks the
// same API). DOCKER_HOST wins, as with the docker CLI; otherwise the socket Shepherd's own
// set-up script (scripts/ensure-containers.ts) serves podman on.

export const DEFAULT_PODMAN_SOCKET = '/run/shepherd/podman.sock';

export interface DockerEndpoint {
  /** What to show a person: the DOCKER_HOST value or the default socket URL. */
  url: string;
  socketPath?: string;
  host?: string;
  port?: number;
}

/** Parses DOCKER_HOST (unix:///path, tcp://host:port, or a bare socket path). */
export function dockerEndpoint(dockerHost = process.env.DOCKER_HOST): DockerEndpoint {
  const url = dockerHost && dockerHost.trim() !== '' ? dockerHost.trim() : `unix://${DEFAULT_PODMAN_SOCKET}`;
  if (url.startsWith('unix://')) return { url, socketPath: url.slice('unix://'.length) };
  if (url.startsWith('/')) return { url, socketPath: url };
  const m = /^(?:tcp|http):\/\/([^:/]+)(?::(\d+))?\/?$/.exec(url);
  if (!m) throw new Error(`DOCKER_HOST=${url} is neither unix:///path nor tcp://host:port`);
  return { url, host: m[1]!, port: Number(m[2] ?? 2375) };
}

const clients = new Map<string, Docker>();

/** A cached client per endpoint (the agent keeps its sockets alive between calls). */
export function dockerClient(dockerHost = process.env.DOCKER_HOST): Docker {
  const ep = dockerEndpoint(dockerHost);
  let client = clients.get(ep.url);
  if (!client) {
    client = ep.socketPath ? new Docker({ socketPath: ep.socketPath }) : new Docker({ host: ep.host, port: ep.port, protocol: 'http' });
    clients.set(ep.url, client);
  }
  return client;
}

/** Resolves when the runtime answers /_ping within `timeoutMs`; otherwise rejects saying where it looked. */
export async function pingRuntime(docker: Docker, endpoint: DockerEndpoint, timeoutMs = 3000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new Error(
      `container runtime not reachable at ${endpoint.url}: ${(err as Error).message} (run \`npx tsx scripts/ensure-containers.ts\`, or set DOCKER_HOST to a Docker daemon)`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}
