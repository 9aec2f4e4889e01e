import http from 'node:http';
import type { Logger } from '../config/logger.js';

export interface HealthServer {
  address: string;
  close(): Promise<void>;
}

/**
 * The worker's own health, for orchestrators (Kubernetes probes, compose healthchecks):
 * GET /healthz answers 200 while the process runs (liveness); GET /readyz answers 200 only
 * while every worker in the process is polling, 503 before that and once shutdown began, so a
 * draining pod stops counting as ready while its steps get their grace period.
 */
export async function startHealthServer(address: string, ready: () => boolean, logger: Logger): Promise<HealthServer> {
  const sep = address.lastIndexOf(':');
  const host = address.slice(0, sep);
  const port = Number(address.slice(sep + 1));
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const ok = path === '/healthz' ? true : path === '/readyz' ? ready() : undefined;
    if (ok === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ready\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as { port: number };
  logger.info({ health: `${host}:${bound.port}` }, 'health endpoint listening');
  return {
    address: `${host}:${bound.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
