import type { ShepherdEnv } from '../config/env.js';
import { resolveDataPath } from '../config/data-dir.js';
import type { ArtifactStore } from './artifact-store.js';
import { LocalArtifactStore } from './local-store.js';

/**
 * The store the worker's env names; undefined = artifacts stay in this worker's data dir only.
 * The AWS SDK is loaded only for an S3 store: a worker without one would carry ~20 MB for nothing.
 */
export async function artifactStoreFromEnv(env: ShepherdEnv): Promise<ArtifactStore | undefined> {
  if (env.SHEPHERD_ARTIFACT_STORE === 's3') {
    const { S3ArtifactStore } = await import('./s3-store.js');
    return new S3ArtifactStore({
      bucket: env.SHEPHERD_S3_BUCKET!,
      prefix: env.SHEPHERD_S3_PREFIX,
      endpoint: env.SHEPHERD_S3_ENDPOINT,
      region: env.SHEPHERD_S3_REGION,
    });
  }
  return env.SHEPHERD_ARTIFACT_DIR ? new LocalArtifactStore(resolveDataPath(env.SHEPHERD_ARTIFACT_DIR)) : undefined;
}
