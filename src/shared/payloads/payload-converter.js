// The worker's payload converter (WorkerOptions.dataConverter.payloadConverterPath, also bundled
// into the workflow sandbox): the SDK's default, except that a payload it cannot decode (an
// unknown encoding such as `binary/unknown` or `json/protobuf`, or a body that is not what its
// encoding says) becomes a marker object instead of an exception. Throwing here happens before
// any workflow code runs and leaves the workflow Running with a workflow-task failure retried
// forever; the marker lets the workflow interceptor (src/workflows/interceptors.ts) fail it once,
// non-retryably. Plain JavaScript because the SDK loads this path with require(), which cannot
// load TypeScript under vitest; types in payload-converter.d.ts.
import { defaultPayloadConverter, str } from '@temporalio/common';

export const UNDECODABLE_KEY = '$shepherdUndecodablePayload';

class TolerantPayloadConverter {
  toPayload(value, context) {
    return defaultPayloadConverter.toPayload(value, context);
  }

  fromPayload(payload, context) {
    try {
      return defaultPayloadConverter.fromPayload(payload, context);
    } catch (err) {
      const raw = payload.metadata?.encoding;
      const encoding = raw ? str(raw) : '(none)';
      const error = encryptedReason(payload, encoding) ?? String(err?.message ?? err);
      return { [UNDECODABLE_KEY]: true, encoding, error: error.slice(0, 300) };
    }
  }
}

// A payload still encrypted here was not decrypted by the worker's codec (src/codec/): say which
// key it needs; the codec records why it could not decrypt it (unknown key ID, altered bytes).
function encryptedReason(payload, encoding) {
  if (encoding !== 'binary/encrypted') return undefined;
  const meta = payload.metadata ?? {};
  if (meta['encryption-error']) return str(meta['encryption-error']);
  const keyId = meta['encryption-key-id'] ? str(meta['encryption-key-id']) : '(none)';
  return `encrypted with key id "${keyId}", but this worker has no encryption keys (SHEPHERD_ENCRYPTION_KEYS is unset)`;
}

export const payloadConverter = new TolerantPayloadConverter();
