import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from './artifact-store.js';

/** A directory as the store: a filesystem several workers mount (NFS, a shared volume). */
export class LocalArtifactStore implements ArtifactStore {
  constructor(readonly root: string) {}

  locate(key: string): string {
    const file = path.resolve(this.root, ...key.split('/'));
    // Keys are built from encoded segments; this guards against a hand-made key all the same.
    if (!file.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`artifact key ${JSON.stringify(key)} leaves the store`);
    return file;
  }

  async putFile(key: string, file: string): Promise<void> {
    await this.atomically(key, (tmp) => copyFile(file, tmp));
  }

  async getFile(key: string, file: string): Promise<boolean> {
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await copyFile(this.locate(key), file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async putText(key: string, text: string): Promise<void> {
    await this.atomically(key, (tmp) => writeFile(tmp, text));
  }

  async getText(key: string): Promise<string | null> {
    try {
      return await readFile(this.locate(key), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    await Promise.all(keys.map((k) => rm(this.locate(k), { force: true })));
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.locate(prefix);
    try {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile() && !e.name.endsWith('.tmp'))
        .map((e) => `${prefix}/${path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/')}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Readers on other machines never see a half-written artifact. */
  private async atomically(key: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const target = this.locate(key);
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
    await write(tmp);
    await rename(tmp, target);
  }
}
