import { fileURLToPath } from 'node:url';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec.js';
import { keyringFromEnv, type Keyring } from './keyring.js';

// The one place every Shepherd program gets its payload codecs: clients (client package, CLI,
// dashboard, npm start) through clientDataConverter, workers through workerDataConverter
// (src/workers/data-converter.ts). No keys in the environment = no codec = plain JSON payloads.

export interface CodecOptions {
  /** The keyring to use; default from SHEPHERD_ENCRYPTION_KEYS / SHEPHERD_ENCRYPTION_KEY_ID. null = encryption off. */
  keyring?: Keyring | null;
  /** See EncryptionCodecOptions.tolerant (workers only). */
  tolerant?: boolean;
}

export function payloadCodecs(opts: CodecOptions = {}): PayloadCodec[] {
  const keyring = opts.keyring === undefined ? keyringFromEnv() : opts.keyring;
  return keyring ? [new EncryptionCodec(keyring, { tolerant: opts.tolerant })] : [];
}

/** For `new Client({ dataConverter })`: payloads encrypted on the way out, decrypted on the way in. */
export function clientDataConverter(opts: Omit<CodecOptions, 'tolerant'> = {}): DataConverter {
  return { payloadCodecs: payloadCodecs(opts) };
}

/** Shepherd's tolerant payload converter: an undecodable payload becomes a marker, not an exception. */
export const tolerantPayloadConverterPath = fileURLToPath(new URL('../shared/payloads/payload-converter.js', import.meta.url));

/**
 * For readers that show many workflows (the dashboard): a payload this process cannot decode (a
 * memo encrypted under keys it lacks, an unknown encoding) is shown as undecodable instead of
 * failing the whole listing, since the SDK decodes every listed workflow's memo eagerly.
 */
export function readerDataConverter(opts: Omit<CodecOptions, 'tolerant'> = {}): DataConverter {
  return { payloadConverterPath: tolerantPayloadConverterPath, payloadCodecs: payloadCodecs({ ...opts, tolerant: true }) };
}
