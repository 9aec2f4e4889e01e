import type Docker from 'dockerode';
import type { ContainerLimits } from '../../shared/containers.js';

// Create, start, inspect, stop and remove through the Engine API, with the settings every
// Shepherd container needs on both runtimes:
// - Init: a PID-1 that ignores SIGTERM (node, most servers) would make every stop wait out the
//   grace period; the runtime's init forwards the signal and reaps.
// - Ports published explicitly on 127.0.0.1 with HostPort "" (a free one the runtime picks and
//   inspect reports): never a guessed port, and never on a public interface.
// - Memory with MemorySwap equal to it, so the limit is a real limit (OOM kill, not swapping).

export interface ContainerCreate {
  name: string;
  image: string;
  cmd?: string[];
  env?: Record<string, string>;
  labels: Record<string, string>;
  limits?: ContainerLimits;
  /** Container port to publish on 127.0.0.1. */
  port?: number;
  /** A user-created network (container DNS works only there), or "none". */
  network: string;
}

export function createBody(c: ContainerCreate): Docker.ContainerCreateOptions {
  const memory = c.limits?.memoryMb ? c.limits.memoryMb * 1024 * 1024 : undefined;
  const portKey = c.port ? `${c.port}/tcp` : undefined;
  return {
    name: c.name,
    Image: c.image,
    ...(c.cmd ? { Cmd: c.cmd } : {}),
    Env: Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v}`),
    Labels: c.labels,
    ...(portKey ? { ExposedPorts: { [portKey]: {} } } : {}),
    HostConfig: {
      Init: true,
      NetworkMode: c.network,
      ...(portKey ? { PortBindings: { [portKey]: [{ HostIp: '127.0.0.1', HostPort: '' }] } } : {}),
      ...(memory ? { Memory: memory, MemorySwap: memory } : {}),
      ...(c.limits?.cpus ? { NanoCpus: Math.round(c.limits.cpus * 1e9) } : {}),
    },
    ...(c.network !== 'none' ? { NetworkingConfig: { EndpointsConfig: { [c.network]: { Aliases: [c.name] } } } } : {}),
  };
}

const status = (err: unknown) => (err as { statusCode?: number }).statusCode;

export async function createAndStart(docker: Docker, c: ContainerCreate): Promise<Docker.Container> {
  let container: Docker.Container;
  try {
    container = await docker.createContainer(createBody(c));
  } catch (err) {
    if (status(err) === 404)
      throw Object.assign(new Error(`image ${c.image} not found in the container runtime (build it with ensureImage)`), {
        code: 'ImageNotFound',
      });
    throw err;
  }
  try {
    await container.start();
  } catch (err) {
    await container.remove({ force: true, v: true }).catch(() => undefined);
    throw err;
  }
  return container;
}

export interface ExitState {
  running: boolean;
  status: string;
  exitCode: number;
  oomKilled: boolean;
  error: string;
}

export async function exitState(container: Docker.Container): Promise<ExitState> {
  const s = (await container.inspect()).State;
  return { running: s.Running, status: s.Status, exitCode: s.ExitCode, oomKilled: s.OOMKilled, error: s.Error ?? '' };
}

/** The host port the runtime published for `port` on 127.0.0.1, read back from inspect. */
export async function publishedPort(container: Docker.Container, port: number): Promise<number> {
  const info = await container.inspect();
  const bindings = (info.NetworkSettings.Ports ?? {})[`${port}/tcp`] ?? [];
  const hostPort = Number(bindings.find((b) => b.HostIp === '127.0.0.1' || b.HostIp === '')?.HostPort ?? bindings[0]?.HostPort);
  if (!Number.isInteger(hostPort) || hostPort <= 0)
    throw new Error(`the runtime published no host port for ${port}/tcp (bindings: ${JSON.stringify(bindings)})`);
  return hostPort;
}

/**
 * Stops with a grace period (SIGTERM through the init, then SIGKILL by the runtime), then
 * removes with its anonymous volumes. Both tolerate a container that is already gone.
 */
export async function stopAndRemove(container: Docker.Container, graceSeconds: number): Promise<void> {
  try {
    await container.stop({ t: graceSeconds });
  } catch (err) {
    if (status(err) !== 304 && status(err) !== 404) {
      await container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
    }
  }
  try {
    await container.remove({ force: true, v: true });
  } catch (err) {
    // 409: removal already in progress (the watchdog or another cleanup got there first).
    if (status(err) !== 404 && status(err) !== 409) throw err;
  }
}

/** Creates the network unless it exists (a concurrent creator winning the race is fine). */
export async function ensureNetwork(docker: Docker, name: string, labels: Record<string, string>): Promise<void> {
  try {
    await docker.getNetwork(name).inspect();
    return;
  } catch (err) {
    if (status(err) !== 404) throw err;
  }
  try {
    await docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true });
  } catch (err) {
    if (status(err) !== 409) throw err;
  }
}

/** Removes the network when no container is attached any more; another holder keeps it. */
export async function removeNetworkIfUnused(docker: Docker, name: string): Promise<void> {
  const users = await docker.listContainers({ all: true, filters: { network: [name] } }).catch(() => []);
  if (users.length > 0) return;
  await docker
    .getNetwork(name)
    .remove()
    .catch(() => undefined);
}
