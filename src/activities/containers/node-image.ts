import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { execa } from 'execa';
import { buildFromDirectory, fileHash, imageExists } from './build.js';
import { IMAGE_LABEL } from './labels.js';

// The Node runtime image, FROM scratch: this host's node binary, the shared libraries ldd lists
// for it, and busybox-static for /bin/sh. Nothing is pulled; the tag carries a hash of every
// byte that goes in, so a new node or libc on the host gives a new image and an unchanged host
// reuses the old one.

export const NODE_IMAGE_REPO = 'localhost/shepherd-node-runtime';
const CONTAINERFILE = fileURLToPath(new URL('../../../images/node-runtime/Containerfile', import.meta.url));
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

interface RuntimeFiles {
  /** Absolute host paths, placed at the same path inside the image. */
  files: string[];
  busybox: string;
  node: string;
}

async function runtimeFiles(): Promise<RuntimeFiles> {
  const node = realpathSync(process.execPath);
  const busybox = BUSYBOX_CANDIDATES.find((p) => existsSync(p));
  if (!busybox)
    throw new Error(
      'busybox-static is missing (/bin/busybox): apt-get install -y --no-install-recommends busybox-static, or run scripts/ensure-containers.ts',
    );
  const probe = await execa('ldd', [busybox], { reject: false, all: true });
  if (!/not a dynamic executable|statically linked/.test(probe.all ?? ''))
    throw new Error(`${busybox} is not statically linked; install busybox-static`);
  const { stdout } = await execa('ldd', [node]);
  // "libx.so => /lib/.../libx.so (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"; vdso has no file.
  const libs = [...stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  return { files: [...new Set(libs)], busybox, node };
}

let cached: Promise<{ tag: string; contentHash: string; files: RuntimeFiles }> | undefined;

/** The node image's tag for this host (content hash of everything that goes into it). */
export function nodeImageTag(): Promise<{ tag: string; contentHash: string; files: RuntimeFiles }> {
  cached ??= (async () => {
    const files = await runtimeFiles();
    const parts = [await readFile(CONTAINERFILE, 'utf8'), `node ${await fileHash(files.node)}`, `busybox ${await fileHash(files.busybox)}`];
    for (const f of files.files) parts.push(`${f} ${await fileHash(f)}`);
    const contentHash = createHash('sha256').update(parts.join('\n')).digest('hex');
    return { tag: `${NODE_IMAGE_REPO}:${contentHash.slice(0, 16)}`, contentHash, files };
  })();
  cached.catch(() => (cached = undefined));
  return cached;
}

async function stageRootfs(dir: string, files: RuntimeFiles): Promise<void> {
  const rootfs = path.join(dir, 'rootfs');
  const place = async (hostPath: string, imagePath = hostPath) => {
    const dest = path.join(rootfs, imagePath);
    await mkdir(path.dirname(dest), { recursive: true });
    await copyFile(hostPath, dest);
    await chmod(dest, 0o755);
  };
  await place(files.node, '/usr/local/bin/node');
  for (const f of files.files) await place(f);
  await place(files.busybox, '/bin/busybox');
  const { stdout } = await execa(files.busybox, ['--list']);
  for (const applet of stdout.split('\n').filter((a) => a && a !== 'busybox')) {
    await symlink('busybox', path.join(rootfs, 'bin', applet)).catch(() => undefined);
  }
  await mkdir(path.join(rootfs, 'tmp'), { recursive: true });
  await chmod(path.join(rootfs, 'tmp'), 0o1777);
  await mkdir(path.join(rootfs, 'etc'), { recursive: true });
  await writeFile(
    path.join(rootfs, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  await writeFile(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  await copyFile(CONTAINERFILE, path.join(dir, 'Containerfile'));
}

/** Builds the node runtime image unless this exact one exists already. Caller serializes. */
export async function buildNodeImage(docker: Docker): Promise<{ tag: string; contentHash: string; built: boolean }> {
  const { tag, contentHash, files } = await nodeImageTag();
  if (await imageExists(docker, tag)) return { tag, contentHash, built: false };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'shepherd-node-image-'));
  try {
    await stageRootfs(dir, files);
    await buildFromDirectory(docker, dir, tag, { [IMAGE_LABEL]: 'node-runtime', 'shepherd.content-hash': contentHash });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { tag, contentHash, built: true };
}
