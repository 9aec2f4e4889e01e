import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { Keyring } from './keyring.js';

// AES-256-GCM over the whole serialized payload (metadata and data), so the server stores only
// `binary/encrypted` bytes and the key ID. Data layout: 12-byte random IV | ciphertext | 16-byte
// tag. The key ID is authenticated too (additional data): moving a payload to another key ID
// fails authentication instead of decrypting with the wrong key.

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_KEY = 'encryption-key-id';
/** Set by a tolerant codec on a payload it could not decrypt, for the payload converter to report. */
export const DECRYPT_ERROR_KEY = 'encryption-error';

// A CommonJS module: Node's ESM loader offers only its default export.
const { Payload: PayloadProto } = proto.temporal.api.common.v1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (b: Uint8Array | null | undefined) => (b ? dec.decode(b) : undefined);

export class DecryptionError extends Error {
  override name = 'DecryptionError';
}

export interface EncryptionCodecOptions {
  /**
   * Hand an undecryptable payload on unchanged, with the reason in its metadata, instead of
   * throwing. The worker needs this: a codec that throws while decoding a workflow activation
   * fails the workflow task, which the server retries forever; the payload converter turns the
   * still-encrypted payload into a marker and the workflow interceptor fails the workflow once.
   */
  tolerant?: boolean;
}

export class EncryptionCodec implements PayloadCodec {
  constructor(
    private readonly keyring: Keyring,
    private readonly opts: EncryptionCodecOptions = {},
  ) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => (text(p.metadata?.encoding) === ENCRYPTED_ENCODING ? p : this.encrypt(p)));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (text(p.metadata?.encoding) !== ENCRYPTED_ENCODING) return p;
      try {
        return this.decrypt(p);
      } catch (err) {
        if (!this.opts.tolerant || !(err instanceof DecryptionError)) throw err;
        return { ...p, metadata: { ...p.metadata, [DECRYPT_ERROR_KEY]: enc.encode(err.message) } };
      }
    });
  }

  private encrypt(payload: Payload): Payload {
    const keyId = this.keyring.encryptWith;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keyring.keys.get(keyId)!, iv);
    cipher.setAAD(enc.encode(keyId));
    const plain = PayloadProto.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { metadata: { encoding: enc.encode(ENCRYPTED_ENCODING), [KEY_ID_KEY]: enc.encode(keyId) }, data };
  }

  private decrypt(payload: Payload): Payload {
    const keyId = text(payload.metadata?.[KEY_ID_KEY]);
    if (!keyId) throw new DecryptionError(`encrypted payload has no ${KEY_ID_KEY} metadata`);
    const key = this.keyring.keys.get(keyId);
    if (!key)
      throw new DecryptionError(
        `encrypted with key id "${keyId}", which is not in SHEPHERD_ENCRYPTION_KEYS here (known: ${[...this.keyring.keys.keys()].join(', ')})`,
      );
    const data = payload.data ?? new Uint8Array();
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new DecryptionError(`encrypted payload (key id "${keyId}") is truncated: ${data.length} bytes`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(enc.encode(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new DecryptionError(
        `encrypted payload failed authentication with key id "${keyId}" (AES-GCM tag mismatch): it was altered, or the key listed under "${keyId}" is not the one it was encrypted with`,
      );
    }
    return PayloadProto.decode(plain);
  }
}
