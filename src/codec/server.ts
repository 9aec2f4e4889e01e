import type { Payload } from '@temporalio/common';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { z } from 'zod';
import { bearerToken, isLoopback, sameSecret } from '../dashboard/auth.js';
import { listen, type Listening } from '../dashboard/listen.js';
import { EncryptionCodec } from './encryption-codec.js';
import type { Keyring } from './keyring.js';

// `shepherd codec-server`: Temporal's remote codec protocol, so the Web UI ("Codec Server"
// setting) and `temporal --codec-endpoint` show decrypted payloads to whoever can reach it and
// holds the token. POST /encode and /decode (also under /<namespace>/, the CLI's templated
// form) take and return {"payloads":[{"metadata":{"<key>":"<base64>"},"data":"<base64>"}]}
// (proto3 JSON of temporal.api.common.v1.Payloads: every bytes field base64). A payload this
// server cannot decrypt comes back still encrypted, its reason in metadata `encryption-error`,
// so one removed key does not hide every other payload of a history.

export const DEFAULT_CODEC_ORIGINS = ['http://localhost:8233', 'http://127.0.0.1:8233'];

const jsonPayloads = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), z.string()).nullish(), data: z.string().nullish() })),
});
type JsonPayloads = z.infer<typeof jsonPayloads>;

const fromJson = ({ payloads }: JsonPayloads): Payload[] =>
  payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  }));

const toJson = (payloads: Payload[]): JsonPayloads => ({
  payloads: payloads.map((p) => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  })),
});

export interface CodecServerOptions {
  keyring: Keyring;
  /** Required in `Authorization: Bearer <token>` on every request when set. */
  token?: string;
  /** Origins CORS allows (the Web UI's); default DEFAULT_CODEC_ORIGINS. */
  origins?: string[];
}

export function createCodecApp(opts: CodecServerOptions) {
  const encoder = new EncryptionCodec(opts.keyring);
  const decoder = new EncryptionCodec(opts.keyring, { tolerant: true });
  const app = new Hono();
  // The browser's preflight carries no Authorization header: CORS answers it before the token check.
  app.use(
    cors({
      origin: opts.origins ?? DEFAULT_CODEC_ORIGINS,
      allowMethods: ['POST', 'OPTIONS'],
      allowHeaders: ['Content-Type', 'X-Namespace', 'Authorization'],
      credentials: true,
      maxAge: 600,
    }),
  );
  app.use(async (c, next) => {
    if (!opts.token) return next();
    const given = bearerToken(c.req.header('authorization'));
    if (given && sameSecret(given, opts.token)) return next();
    return c.json(
      { error: 'unauthorized: send Authorization: Bearer <SHEPHERD_CODEC_TOKEN> (temporal --codec-auth "Bearer <token>")' },
      401,
    );
  });
  app.use(bodyLimit({ maxSize: 16 * 1024 * 1024 }));
  const handle = (codec: EncryptionCodec, op: 'encode' | 'decode') => async (c: Context) => {
    const parsed = jsonPayloads.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: 'expected JSON {"payloads":[{"metadata":{"<key>":"<base64>"},"data":"<base64>"}]}' }, 400);
    try {
      return c.json(toJson(await codec[op](fromJson(parsed.data))));
    } catch (err) {
      return c.json({ error: (err as Error).message }, 422);
    }
  };
  for (const prefix of ['', '/:namespace']) {
    app.post(`${prefix}/encode`, handle(encoder, 'encode'));
    app.post(`${prefix}/decode`, handle(decoder, 'decode'));
  }
  return app;
}

export type CodecServer = Pick<Listening, 'url' | 'close'>;

/** Throws when the bind address needs a token and none is configured. */
export function checkCodecBind(host: string, token: string | undefined): void {
  if (!isLoopback(host) && !token)
    throw new Error(
      `host: binding the codec server to ${host} (not loopback) requires SHEPHERD_CODEC_TOKEN: it decrypts payloads for whoever can reach it`,
    );
}

/** Listens on host:port (127.0.0.1 and a free port by default). */
export async function serveCodec(opts: CodecServerOptions & { host?: string; port?: number }): Promise<CodecServer> {
  const host = opts.host ?? '127.0.0.1';
  checkCodecBind(host, opts.token);
  return listen(createCodecApp(opts), host, opts.port);
}
