import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { startVersitygw } from './lib/s3/versitygw.js';

// `npm run s3`: a real S3-compatible server on loopback for trying the artifact store; prints
// the worker's env and serves until Ctrl-C. Objects live in a fresh directory (printed).
const dir = process.argv[2] ?? mkdtempSync(path.join(os.tmpdir(), 'shepherd-s3-'));
const server = await startVersitygw({ dataDir: dir });
const bucket = 'shepherd-artifacts';
await server.createBucket(bucket);
console.error(`versitygw serving ${path.join(dir, 'objects')} on ${server.endpoint}; bucket ${bucket}. Export for the worker:\n`);
for (const [k, v] of Object.entries(server.workerEnv(bucket))) console.log(`export ${k}=${v}`);
const stop = () => void server.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
