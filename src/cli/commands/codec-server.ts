import type { Command } from 'commander';
import { z } from 'zod';
import { loadEncryptionEnv } from '../../config/env.js';
import { keyringFromEnv } from '../../codec/keyring.js';
import { checkCodecBind, DEFAULT_CODEC_ORIGINS, serveCodec } from '../../codec/server.js';

// `shepherd codec-server`: decrypts payloads for the Temporal Web UI and the temporal CLI with
// the keys in SHEPHERD_ENCRYPTION_KEYS, until Ctrl-C. See src/codec/server.ts for the protocol.

const flagsSchema = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8235),
  origin: z.array(z.url()).min(1).optional(),
});

const NAMES: Record<string, string> = { host: '--host', port: '--port', origin: '--origin / SHEPHERD_CODEC_CORS_ORIGINS' };

export function registerCodecServerCommand(program: Command): void {
  program
    .command('codec-server')
    .description(
      "serve Temporal's codec protocol (decrypt payloads for the Web UI and `temporal --codec-endpoint`); 127.0.0.1 by default, another address needs SHEPHERD_CODEC_TOKEN",
    )
    .option('--host <address>', 'address to bind (default 127.0.0.1)')
    .option('--port <port>', 'port (default 8235; 0 for any free port)')
    .option('--origin <urls...>', `Web UI origins CORS allows (default SHEPHERD_CODEC_CORS_ORIGINS or ${DEFAULT_CODEC_ORIGINS.join(' ')})`)
    .action(async (rawFlags: { host?: string; port?: string; origin?: string[] }) => {
      const env = loadEncryptionEnv();
      const parsed = flagsSchema.safeParse({
        ...rawFlags,
        origin:
          rawFlags.origin ??
          env.SHEPHERD_CODEC_CORS_ORIGINS?.split(',')
            .map((s) => s.trim())
            .filter(Boolean),
      });
      if (!parsed.success)
        throw new Error(
          `invalid ${parsed.error.issues.map((i) => `${NAMES[String(i.path[0])] ?? i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      const flags = parsed.data;
      checkCodecBind(flags.host, env.SHEPHERD_CODEC_TOKEN);
      const keyring = keyringFromEnv();
      if (!keyring)
        throw new Error(
          'invalid environment: SHEPHERD_ENCRYPTION_KEYS is not set; the codec server decrypts with the same keys as the worker',
        );
      const server = await serveCodec({
        keyring,
        host: flags.host,
        port: flags.port,
        token: env.SHEPHERD_CODEC_TOKEN,
        origins: flags.origin,
      });
      process.stdout.write(
        `Shepherd codec server: ${server.url}\n` +
          `  Web UI: set "Codec Server" (the data encoder setting) to ${server.url}\n` +
          `  CLI:    temporal workflow show --codec-endpoint ${server.url}${env.SHEPHERD_CODEC_TOKEN ? ' --codec-auth "Bearer $SHEPHERD_CODEC_TOKEN"' : ''} -w <workflow-id>\n` +
          `  keys: ${[...keyring.keys.keys()].join(', ')} (new payloads: ${keyring.encryptWith})\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
}
