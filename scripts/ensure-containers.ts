import { parseArgs } from 'node:util';
import { ensureContainerRuntime } from './lib/containers/index.js';
import { DOCKERD_SOCKET, ensureDockerd } from './lib/containers/dockerd.js';
import { stopDaemon } from './lib/containers/service.js';
import { DEFAULT_PODMAN_SOCKET } from '../src/activities/containers/client.js';
import { ensureAnalyzerTools } from './lib/analyzers.js';

// `npx tsx scripts/ensure-containers.ts`: a container runtime answering the Engine API (podman
// installed and served here unless DOCKER_HOST names a daemon) and the base images built.
// `--dockerd`: Debian's dockerd instead, on its own socket and data root (CI's second run).
// `--stop`: stops the daemons this script started (CI ends with it, so nothing keeps running).
// Prints the DOCKER_HOST to use on stdout; explains on stderr, exit 1, what is wrong otherwise.
const { values } = parseArgs({
  options: {
    stop: { type: 'boolean', default: false },
    dockerd: { type: 'boolean', default: false },
    'dockerd-data-root': { type: 'string', default: '/var/lib/shepherd-dockerd' },
  },
});
const started = Date.now();
const log = (m: string) => console.error(`containers: ${m}`);
try {
  if (values.stop) {
    for (const socket of [DOCKERD_SOCKET, DEFAULT_PODMAN_SOCKET]) await stopDaemon(`unix://${socket}`, log);
    process.exit(0);
  }
  const dockerHost = values.dockerd ? (await ensureDockerd({ dataRoot: values['dockerd-data-root']!, log })).dockerHost : undefined;
  const rt = await ensureContainerRuntime({ log, dockerHost });
  // The analysis pipeline's tools that are not npm packages (nmap for the dynamic analyzer).
  await ensureAnalyzerTools(log);
  log(
    `${values.dockerd ? 'dockerd' : rt.kind} at ${rt.dockerHost}, node image ${rt.nodeImage} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  console.log(rt.dockerHost);
} catch (err) {
  log(`not available: ${(err as Error).message}`);
  process.exitCode = 1;
}
