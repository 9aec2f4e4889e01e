// Per-worker container watchdog (plain Node, no dependencies, so it starts in milliseconds).
// Spawned detached by the worker with stdin a pipe whose only writer is the worker. When the
// worker dies — even by SIGKILL — the kernel closes the pipe, stdin ends, and this process
// removes every container (then network) labelled with the worker's identity, and exits.
// argv: <owner label value> <DOCKER_HOST url>
import http from 'node:http';

const [owner, dockerHost] = process.argv.slice(2);
const OWNER_LABEL = 'shepherd.owner';
process.on('SIGTERM', () => undefined); // a graceful stop of the worker's group must not take the guard
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);

function endpoint(url) {
  if (url.startsWith('unix://')) return { socketPath: url.slice(7) };
  if (url.startsWith('/')) return { socketPath: url };
  const m = /^(?:tcp|http):\/\/([^:/]+)(?::(\d+))?/.exec(url);
  return { host: m[1], port: Number(m[2] ?? 2375) };
}

function call(method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...endpoint(dockerHost), method, path, timeout: 30_000 }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function sweep() {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${OWNER_LABEL}=${owner}`] }));
  const list = await call('GET', `/containers/json?all=1&filters=${filters}`);
  const containers = list.status === 200 ? JSON.parse(list.body) : [];
  await Promise.all(containers.map((c) => call('DELETE', `/containers/${c.Id}?force=1&v=1`).catch(() => undefined)));
  const nets = await call('GET', `/networks?filters=${filters}`).catch(() => ({ status: 0 }));
  for (const n of nets.status === 200 ? JSON.parse(nets.body) : []) {
    await call('DELETE', `/networks/${encodeURIComponent(n.Name)}`).catch(() => undefined);
  }
  return containers.length;
}

process.stdin.on('data', () => undefined);
process.stdin.on('close', async () => {
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const n = await sweep();
      if (n > 0) process.stderr.write(`shepherd container watchdog: removed ${n} container(s) of dead worker ${owner}\n`);
      break;
    } catch (err) {
      process.stderr.write(`shepherd container watchdog: sweep ${attempt} failed: ${err.message}\n`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  process.exit(0);
});
