import { fileURLToPath } from 'node:url';
import type { DataConverter, PayloadCodec } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec.js';
import { keyringFromEnv, type Keyring } from './keyring.js';

// The one place every Shepherd program gets its payload codecs: clients (client package, CLI,
// npm start) through clientDataConverter, workers and the dashboard through tolerantDataConverter.
// No keys in the environment = no codec = plain JSON payloads.

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
 * A payload this process cannot decode (encrypted under a key it lacks or that was altered, an
 * unknown encoding) becomes an undecodable marker instead of an exception:
 * - workers: the workflow receives the marker and fails once, non-retryably, naming the key ID,
 *   instead of its workflow task failing and being retried forever;
 * - readers that show many workflows (the dashboard): the payload is shown as undecodable instead
 *   of failing the whole listing, since the SDK decodes every listed workflow's memo eagerly.
 * The payload converter is bundled into the workflow sandbox too (bundleOptions).
 */
export function tolerantDataConverter(opts: Omit<CodecOptions, 'tolerant'> = {}): DataConverter {
  return { payloadConverterPath: tolerantPayloadConverterPath, payloadCodecs: payloadCodecs({ ...opts, tolerant: true }) };
}
