import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { ArtifactStore } from './artifact-store.js';

export interface S3StoreOptions {
  bucket: string;
  /** Prepended to every key, e.g. `shepherd/prod`; no leading or trailing slash needed. */
  prefix?: string;
  /** S3-compatible servers (MinIO, versitygw, Ceph); unset = AWS. Path-style addressing then. */
  endpoint?: string;
  region?: string;
  /** Default: the AWS SDK's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, roles). */
  credentials?: S3ClientConfig['credentials'];
}

/** Any S3-compatible object store, through the official AWS SDK. */
export class S3ArtifactStore implements ArtifactStore {
  readonly client: S3Client;
  private readonly prefix: string;

  constructor(readonly options: S3StoreOptions) {
    this.prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.client = new S3Client({
      region: options.region ?? 'us-east-1',
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  private object(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  locate(key: string): string {
    return `s3://${this.options.bucket}/${this.object(key)}`;
  }

  async putFile(key: string, file: string): Promise<void> {
    const { size } = await stat(file);
    await this.client.send(
      new PutObjectCommand({ Bucket: this.options.bucket, Key: this.object(key), Body: createReadStream(file), ContentLength: size }),
    );
  }

  async getFile(key: string, file: string): Promise<boolean> {
    return retryTornRead(() => this.download(key, file));
  }

  private async download(key: string, file: string): Promise<boolean> {
    const body = await this.body(key);
    if (!body) return false;
    await mkdir(path.dirname(file), { recursive: true });
    // Never leave a truncated checkpoint where a trainer would load it.
    const tmp = `${file}.${process.pid}.download`;
    try {
      await pipeline(body, createWriteStream(tmp));
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return true;
  }

  async putText(key: string, text: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.object(key), Body: text }));
  }

  async getText(key: string): Promise<string | null> {
    return retryTornRead(() => this.readText(key));
  }

  private async readText(key: string): Promise<string | null> {
    const body = await this.body(key);
    if (!body) return null;
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(Buffer.from(c as Uint8Array));
    return Buffer.concat(chunks).toString('utf8');
  }

  async delete(keys: readonly string[]): Promise<void> {
    // DeleteObjects takes at most 1,000 keys per request.
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const out = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.options.bucket,
          Delete: { Objects: batch.map((k) => ({ Key: this.object(k) })), Quiet: true },
        }),
      );
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length)
        throw new Error(
          `could not delete ${failed.length} artifact(s) from ${this.locate('')}: ${failed[0]!.Key} ${failed[0]!.Code} ${failed[0]!.Message}`,
        );
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    const strip = this.prefix ? this.prefix.length + 1 : 0;
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: `${this.object(prefix)}/`, ContinuationToken: token }),
      );
      for (const o of out.Contents ?? []) if (o.Key) keys.push(o.Key.slice(strip));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  private async body(key: string): Promise<Readable | null> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.object(key) }));
      return out.Body as Readable;
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return null;
      throw err;
    }
  }
}

/**
 * A read that overlapped a rewrite of the same key (the manifest is rewritten at every
 * checkpoint) can fail the SDK's checksum check on some servers (seen with versitygw's POSIX
 * backend); such a torn read is read again, anything else is thrown.
 */
async function retryTornRead<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= 5 || !/checksum mismatch/i.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}
