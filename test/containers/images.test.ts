import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImageFromDirectory, ensureNodeImage } from '../../src/activities/containers/images.js';
import { createContainerActivities } from '../../src/activities/containers/index.js';
import { createLogger } from '../../src/config/logger.js';
import type { ActivityDeps } from '../../src/activities/deps.js';
import { tempDir } from '../support/harness.js';
import { ensureTestContainers, FIXTURE_APP, testDocker } from './support.js';

// ensureImage builds locally, names images by content, reuses them, and builds each at most
// once when many callers (in this process and in another) ask for the same one at once.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const created: string[] = [];

beforeAll(async () => {
  await ensureTestContainers();
});
afterAll(async () => {
  for (const tag of created)
    await testDocker()
      .getImage(tag)
      .remove({ force: true })
      .catch(() => undefined);
});

function freshApp(marker: string): string {
  const dir = path.join(tempDir('image-app'), 'app');
  cpSync(path.resolve(FIXTURE_APP), dir, { recursive: true });
  writeFileSync(path.join(dir, 'marker.txt'), marker);
  return dir;
}

describe('ensureImage', () => {
  it('the node runtime image is cached: a second call builds nothing', async () => {
    const a = await ensureNodeImage(testDocker());
    const b = await ensureNodeImage(testDocker());
    expect(b).toEqual({ image: a.image, built: false, contentHash: a.contentHash });
    const info = await testDocker().getImage(a.image).inspect();
    // No EXPOSE (podman 4.3's compat API mishandles it) and nothing pulled: FROM scratch.
    expect(info.Config.ExposedPorts ?? {}).toEqual({});
  });

  it('concurrent callers in two processes build one image; a changed file gives a new tag', async () => {
    const dir = freshApp(`run ${Date.now()} ${Math.random()}`);
    const other = execa(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { ensureImageFromDirectory } = await import(${JSON.stringify(path.join(ROOT, 'src/activities/containers/images.ts'))});
         const { dockerClient } = await import(${JSON.stringify(path.join(ROOT, 'src/activities/containers/client.ts'))});
         console.log(JSON.stringify(await ensureImageFromDirectory(dockerClient(), ${JSON.stringify(dir)}, 'node')));`,
      ],
      { cwd: ROOT },
    );
    const here = await Promise.all([1, 2, 3].map(() => ensureImageFromDirectory(testDocker(), dir, 'node')));
    const there = JSON.parse((await other).stdout.trim().split('\n').pop()!);
    created.push(here[0]!.image);
    const refs = [...here, there];
    expect(new Set(refs.map((r) => r.image)).size).toBe(1);
    expect(new Set(refs.map((r) => r.contentHash)).size).toBe(1);
    // Exactly one of the two processes built it (the in-process callers share one build).
    expect([here[0]!.built, there.built].filter(Boolean)).toHaveLength(1);
    expect(here.every((r) => r.built === here[0]!.built)).toBe(true);

    const again = await ensureImageFromDirectory(testDocker(), dir, 'node');
    expect(again).toEqual({ ...here[0], built: false });

    writeFileSync(path.join(dir, 'marker.txt'), 'changed');
    const changed = await ensureImageFromDirectory(testDocker(), dir, 'node');
    created.push(changed.image);
    expect(changed.built).toBe(true);
    expect(changed.image).not.toBe(here[0]!.image);
  });

  it('a directory with its own Containerfile is built as is', async () => {
    const dir = path.join(tempDir('image-own'), 'ctx');
    const node = await ensureNodeImage(testDocker());
    cpSync(path.resolve(FIXTURE_APP), dir, { recursive: true });
    writeFileSync(path.join(dir, 'Containerfile'), `FROM ${node.image}\nCOPY server.js /srv/server.js\nCMD ["node", "/srv/server.js"]\n`);
    const ref = await ensureImageFromDirectory(testDocker(), dir, undefined);
    created.push(ref.image);
    expect(ref.built).toBe(true);
    expect((await testDocker().getImage(ref.image).inspect()).Config.Cmd).toEqual(['node', '/srv/server.js']);
  });

  it('the activity takes a project-relative context, and rejects one outside the project naming the field', async () => {
    const acts = createContainerActivities({ projectDir: ROOT, logger: createLogger('error', 'images-test') } as ActivityDeps);
    const ref = await acts.ensureImage({ context: FIXTURE_APP, base: 'node' });
    expect(ref.image).toMatch(/^localhost\/shepherd-app-app:[0-9a-f]{16}$/);
    await expect(acts.ensureImage({ context: '../outside' })).rejects.toMatchObject({
      type: 'InvalidInput',
      nonRetryable: true,
      message: expect.stringContaining('context'),
    });
    await expect(acts.ensureImage({ context: 'test/containers/no-such-dir' })).rejects.toMatchObject({
      type: 'InvalidInput',
      message: expect.stringContaining('does not exist'),
    });
  });
});
