import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';

// Serving a Hono app on host:port for Shepherd's HTTP servers (dashboard, codec server): the
// bound address as a URL (IPv6 in brackets), and a close that does not wait for idle keep-alive
// connections (a browser holds them open for minutes).

export interface Listening {
  url: string;
  server: ServerType;
  close(): Promise<void>;
}

/** Resolves once listening (port 0 = a free port); rejects when the address cannot be bound. */
export async function listen(app: Hono, host: string, port = 0): Promise<Listening> {
  const { server, info } = await new Promise<{ server: ServerType; info: AddressInfo }>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, (info) => resolve({ server: s, info }));
    s.once('error', reject);
  });
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${info.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
