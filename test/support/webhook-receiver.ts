import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
  received: { body: any; headers: http.IncomingHttpHeaders }[];
  /** Status the receiver answers with; set to 500 to simulate a broken Slack. */
  status: number;
  /** While set, requests are recorded at once but answered only when it settles (a slow Slack). */
  hold?: Promise<void>;
  close(): Promise<void>;
}

/** A local HTTP endpoint that accepts Slack-style incoming-webhook POSTs and records them. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = { url: '', received: [], status: 200, close: async () => undefined };
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      let body: unknown = data;
      try {
        body = JSON.parse(data);
      } catch {
        /* record raw */
      }
      receiver.received.push({ body, headers: req.headers });
      void Promise.resolve(receiver.hold).then(() =>
        res.writeHead(receiver.status, { 'content-type': 'text/plain' }).end(receiver.status === 200 ? 'ok' : 'error'),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/slack`;
  receiver.close = () => new Promise((resolve) => server.close(() => resolve()));
  return receiver;
}
