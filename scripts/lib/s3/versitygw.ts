import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa, type ResultPromise } from 'execa';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../free-port.js';
import { ensureVersitygw } from './versitygw-build.js';

const SETPRIV = '/usr/bin/setpriv';

export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The env a worker needs to use this server as its artifact store (bucket created). */
  workerEnv(bucket: string, prefix?: string): Record<string, string>;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real S3-compatible server (versitygw over a POSIX directory) on a free loopback port, with
 * fresh root credentials. It dies with its parent (a killed test run leaves no server behind).
 */
export async function startVersitygw(opts: { dataDir: string; log?: (m: string) => void }): Promise<S3Server> {
  const bin = await ensureVersitygw(opts.log);
  const port = await freePort();
  const objects = path.join(opts.dataDir, 'objects');
  mkdirSync(objects, { recursive: true });
  const accessKeyId = `shepherd${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(24).toString('base64url');
  // Metadata in a sidecar directory: the POSIX backend's default, extended attributes, is not
  // supported by every filesystem a data dir may sit on (tmpfs without user xattrs, some overlays).
  const sidecar = path.join(opts.dataDir, 'meta');
  mkdirSync(sidecar, { recursive: true });
  const args = [
    '--access',
    accessKeyId,
    '--secret',
    secretAccessKey,
    '--port',
    `127.0.0.1:${port}`,
    'posix',
    '--sidecar',
    sidecar,
    objects,
  ];
  const logFile = path.join(opts.dataDir, 'versitygw.log');
  const [file, argv]: [string, string[]] = existsSync(SETPRIV) ? [SETPRIV, ['--pdeathsig', 'TERM', '--', bin, ...args]] : [bin, args];
  const child: ResultPromise = execa(file, argv, {
    stdin: 'ignore',
    stdout: { file: logFile, append: true },
    stderr: { file: logFile, append: true },
    reject: false,
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const region = 'us-east-1';
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode} before answering; see ${logFile}`);
    try {
      await client.send(new ListBucketsCommand({}));
      break;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`versitygw did not answer on ${endpoint} within 30 s (${(err as Error).message}); see ${logFile}`, {
          cause: err,
        });
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  return {
    endpoint,
    accessKeyId,
    secretAccessKey,
    region,
    workerEnv: (bucket, prefix = '') => ({
      SHEPHERD_ARTIFACT_STORE: 's3',
      SHEPHERD_S3_BUCKET: bucket,
      SHEPHERD_S3_PREFIX: prefix,
      SHEPHERD_S3_ENDPOINT: endpoint,
      SHEPHERD_S3_REGION: region,
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
    }),
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      client.destroy();
      child.kill('SIGTERM');
      await Promise.race([child, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
