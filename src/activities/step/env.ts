import net from 'node:net';

// What a step sees of the worker's environment: only what programs need to run, never the
// worker's secrets (DATABASE_URL, SHEPHERD_WEBHOOK_URL, API keys, TEMPORAL_*).

const INHERITED = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TERM',
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_EXTRA_CA_CERTS',
]);

export function inheritedEnv(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  // Names first, values only of the kept ones: each read of process.env is a getenv call, and
  // this runs for every step.
  for (const name of Object.keys(source)) {
    if (!INHERITED.has(name) && !name.startsWith('LC_')) continue;
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  return env;
}

/**
 * Allocates one free loopback TCP port per name. All listeners stay open until every port is
 * chosen, so the ports are distinct; a step binds them right after, so the window for another
 * process to take one is its start-up time, never a fixed port shared by every run.
 */
export async function allocatePorts(names: readonly string[]): Promise<Record<string, number>> {
  const servers: net.Server[] = [];
  try {
    const ports: Record<string, number> = {};
    for (const name of names) {
      const srv = net.createServer();
      servers.push(srv);
      ports[name] = await new Promise<number>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port));
      });
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}
