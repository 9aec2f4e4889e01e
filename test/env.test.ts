import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../src/config/env.js';

// The worker's environment, as docker-compose.yml and shells hand it over.

describe('loadEnv', () => {
  it('treats an empty variable as unset (docker compose passes SHEPHERD_WEBHOOK_URL="" when it is not set)', () => {
    const env = loadEnv({ SHEPHERD_WEBHOOK_URL: '', DATABASE_URL: '', SHEPHERD_TASK_QUEUE: '', SHEPHERD_DATA_DIR: '/var/lib/shepherd' });
    expect(env.SHEPHERD_WEBHOOK_URL).toBeUndefined();
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.SHEPHERD_TASK_QUEUE).toBe('shepherd');
    expect(env.runsDir).toBe(path.join('/var/lib/shepherd', 'runs'));
  });

  it('names a bad variable without echoing its value (it may be a secret)', () => {
    expect(() => loadEnv({ SHEPHERD_WEBHOOK_URL: 'hooks.example/T0/SECRET' })).toThrow(/invalid environment: SHEPHERD_WEBHOOK_URL: /);
    expect(() => loadEnv({ SHEPHERD_WEBHOOK_URL: 'hooks.example/T0/SECRET' })).not.toThrow(/SECRET/);
  });
});
