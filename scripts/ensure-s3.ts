import { ensureVersitygw } from './lib/s3/versitygw-build.js';

// The S3-compatible server the artifact-store tests run against (built from its Go module once).
console.error(`versitygw: ${await ensureVersitygw()}`);
