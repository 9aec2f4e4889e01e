import type { DataConverter } from '@temporalio/common';
import { payloadCodecs, type CodecOptions } from '../codec/data-converter.js';
import { payloadConverterPath } from './bundle-options.js';

/**
 * The main worker's data converter: Shepherd's tolerant payload converter (bundled into the
 * workflow sandbox too) and, when keys are configured, the encryption codec in its tolerant
 * mode: a payload it cannot decrypt (key removed, altered) reaches the workflow as an
 * undecodable marker, and the workflow fails once, non-retryably, naming the key ID, instead of
 * the workflow task failing and being retried forever.
 */
export function workerDataConverter(opts: Omit<CodecOptions, 'tolerant'> = {}): DataConverter {
  return { payloadConverterPath, payloadCodecs: payloadCodecs({ ...opts, tolerant: true }) };
}
