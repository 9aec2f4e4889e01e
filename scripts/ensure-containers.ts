import { ensureContainerRuntime } from './lib/containers/index.js';

// `npx tsx scripts/ensure-containers.ts`: a container runtime answering the Engine API (podman
// installed and served here unless DOCKER_HOST names a daemon) and the base images built.
// Prints the DOCKER_HOST to use on stdout; explains on stderr, exit 1, what is wrong otherwise.
const started = Date.now();
try {
  const rt = await ensureContainerRuntime();
  console.error(`containers: ${rt.kind} at ${rt.dockerHost}, node image ${rt.nodeImage} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(rt.dockerHost);
} catch (err) {
  console.error(`containers: not available: ${(err as Error).message}`);
  process.exitCode = 1;
}
