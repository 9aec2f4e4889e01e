import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import type { ImageRef } from '../../shared/containers.js';
import { withFileLock } from '../simulation/file-lock.js';
import { buildFromDirectory, imageExists, treeHash } from './build.js';
import { IMAGE_LABEL } from './labels.js';
import { buildNodeImage } from './node-image.js';

// Images are built locally and named by the hash of their content: the same context gives the
// same tag, so "is it built?" is one inspect, and a changed file can never reuse a stale image.
// Concurrent callers (activities in one worker, several workers, the set-up script) are
// serialized per tag by an in-process promise and a machine-wide flock, and the winner's image
// is what the others find when they get the lock.

export const APP_IMAGE_REPO = 'localhost/shepherd-app';
const CONTAINERFILES = ['Containerfile', 'Dockerfile'];
const SKIP = new Set(['.git', '.shepherd', 'node_modules/.cache']);

const inFlight = new Map<string, Promise<ImageRef>>();

function lockPath(tag: string): string {
  const name = createHash('sha256').update(tag).digest('hex').slice(0, 24);
  return path.join(os.tmpdir(), 'shepherd-image-locks', `${name}.lock`);
}

/** Runs `build` once per tag across this process and machine, unless the image exists. */
async function once(docker: Docker, tag: string, contentHash: string, build: () => Promise<void>): Promise<ImageRef> {
  let p = inFlight.get(tag);
  if (!p) {
    p = (async () => {
      if (await imageExists(docker, tag)) return { image: tag, built: false, contentHash };
      return withFileLock(lockPath(tag), async () => {
        if (await imageExists(docker, tag)) return { image: tag, built: false, contentHash };
        await build();
        return { image: tag, built: true, contentHash };
      });
    })().finally(() => inFlight.delete(tag));
    inFlight.set(tag, p);
  }
  return p;
}

/** The Node runtime base image, built once per host content. */
export async function ensureNodeImage(docker: Docker): Promise<ImageRef> {
  const { nodeImageTag } = await import('./node-image.js');
  const { tag, contentHash } = await nodeImageTag();
  return once(docker, tag, contentHash, async () => {
    await buildNodeImage(docker);
  });
}

/** The command a Node app dir runs with: package.json "main", else server.js, else index.js. */
export function nodeEntry(dir: string): string {
  const pkgFile = path.join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    const main = (JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: string }).main;
    if (main) return main;
  }
  for (const f of ['server.js', 'index.js', 'app.js']) if (existsSync(path.join(dir, f))) return f;
  throw new Error(`${dir} has no Containerfile, and no package.json "main", server.js, index.js or app.js to run with node`);
}

function slug(dir: string): string {
  return (
    path
      .basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9_.-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 40) || 'app'
  );
}

/**
 * Builds `dir` (absolute): with its own Containerfile/Dockerfile as is; otherwise, as a Node app
 * on the node runtime image (`base: 'node'`), copied to /app and run with node.
 */
export async function ensureImageFromDirectory(docker: Docker, dir: string, base: 'node' | undefined): Promise<ImageRef> {
  const own = CONTAINERFILES.find((f) => existsSync(path.join(dir, f)));
  let generated: string | undefined;
  let baseHash = '';
  if (!own) {
    if (base !== undefined && base !== 'node') throw new Error(`unknown base ${String(base)}`);
    const node = await ensureNodeImage(docker);
    baseHash = node.contentHash;
    generated = [`FROM ${node.image}`, 'COPY . /app', 'WORKDIR /app', `CMD ["node", ${JSON.stringify(nodeEntry(dir))}]`, ''].join('\n');
  }
  const tree = await treeHash(dir, (rel) => SKIP.has(rel));
  const contentHash = createHash('sha256')
    .update(`${tree}\n${baseHash}\n${generated ?? own}`)
    .digest('hex');
  const tag = `${APP_IMAGE_REPO}-${slug(dir)}:${contentHash.slice(0, 16)}`;
  return once(docker, tag, contentHash, async () => {
    const stage = await mkdtemp(path.join(os.tmpdir(), 'shepherd-app-image-'));
    try {
      await cp(dir, stage, { recursive: true, filter: (src) => !SKIP.has(path.relative(dir, src)) });
      if (generated) await writeFile(path.join(stage, 'Containerfile'), generated);
      else if (own !== 'Containerfile') await cp(path.join(dir, own!), path.join(stage, 'Containerfile'));
      await buildFromDirectory(docker, stage, tag, { [IMAGE_LABEL]: 'app', 'shepherd.content-hash': contentHash });
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  });
}
