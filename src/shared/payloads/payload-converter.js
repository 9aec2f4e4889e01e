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
      return { [UNDECODABLE_KEY]: true, encoding, error: String(err?.message ?? err).slice(0, 300) };
    }
  }
}

export const payloadConverter = new TolerantPayloadConverter();
