import { loadEncryptionEnv } from '../config/env.js';

// The AES-256 keys payloads are encrypted with, from env only. Every key listed may decode (old
// payloads keep their recorded key ID); one of them, SHEPHERD_ENCRYPTION_KEY_ID, encrypts new
// payloads. Rotation: add a key, point KEY_ID at it, keep the old one listed while anything
// encrypted with it may still be read.

export interface Keyring {
  /** The key ID new payloads are encrypted with. */
  encryptWith: string;
  keys: ReadonlyMap<string, Buffer>;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Parses `id:base64,id:base64`; errors name the variable and the key ID, never a key (like loadEnv's, so the CLI exits 2). */
export function parseKeyring(keysVar: string, keyId: string | undefined): Keyring {
  const keys = new Map<string, Buffer>();
  for (const entry of keysVar
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const sep = entry.indexOf(':');
    const id = sep < 0 ? '' : entry.slice(0, sep);
    if (!KEY_ID.test(id))
      throw new Error(
        `invalid environment: SHEPHERD_ENCRYPTION_KEYS: each entry must be keyId:base64-key with a key ID of letters, digits, '.', '_' or '-' (entry ${keys.size + 1})`,
      );
    const b64 = entry.slice(sep + 1);
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32 || key.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) {
      throw new Error(
        `invalid environment: SHEPHERD_ENCRYPTION_KEYS: key "${id}" must be 32 bytes in base64 (e.g. \`openssl rand -base64 32\`), got ${key.length} bytes`,
      );
    }
    if (keys.has(id)) throw new Error(`invalid environment: SHEPHERD_ENCRYPTION_KEYS: key ID "${id}" is listed twice`);
    keys.set(id, key);
  }
  if (keys.size === 0) throw new Error('invalid environment: SHEPHERD_ENCRYPTION_KEYS: no key listed (expected keyId:base64-key[,...])');
  if (!keyId) {
    if (keys.size === 1) return { encryptWith: [...keys.keys()][0]!, keys };
    throw new Error(
      `invalid environment: SHEPHERD_ENCRYPTION_KEY_ID: required when SHEPHERD_ENCRYPTION_KEYS lists several keys (one of ${[...keys.keys()].join(', ')})`,
    );
  }
  if (!keys.has(keyId))
    throw new Error(
      `invalid environment: SHEPHERD_ENCRYPTION_KEY_ID: "${keyId}" is not one of the keys in SHEPHERD_ENCRYPTION_KEYS (${[...keys.keys()].join(', ')})`,
    );
  return { encryptWith: keyId, keys };
}

/** The keyring the environment configures, or null when encryption is off (no keys set). */
export function keyringFromEnv(source: NodeJS.ProcessEnv = process.env): Keyring | null {
  const env = loadEncryptionEnv(source);
  if (!env.SHEPHERD_ENCRYPTION_KEYS) {
    if (env.SHEPHERD_ENCRYPTION_KEY_ID)
      throw new Error('invalid environment: SHEPHERD_ENCRYPTION_KEY_ID: set, but SHEPHERD_ENCRYPTION_KEYS is not (list the key it names)');
    return null;
  }
  return parseKeyring(env.SHEPHERD_ENCRYPTION_KEYS, env.SHEPHERD_ENCRYPTION_KEY_ID);
}
