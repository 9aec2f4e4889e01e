import { execa } from 'execa';
import { ensureTemporalCli } from '../temporal-cli.js';
import { SEARCH_ATTRIBUTES } from '../dev-server.js';

// Cluster set-up through the temporal CLI, the tool an operator would use on a real cluster.

async function cli(address: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  const bin = await ensureTemporalCli();
  const r = await execa(bin, [...args, '--address', address], {
    reject: false,
    all: true,
    timeout: 30_000,
    env: { TEMPORAL_CLI_SHOW_STACKS: '' },
  });
  return { ok: r.exitCode === 0, out: r.all ?? '' };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `temporal operator cluster health` until the frontend answers SERVING. */
export async function waitServing(address: string, timeoutMs: number, stillRunning: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    const dead = stillRunning();
    if (dead) throw new Error(`Temporal service ${dead} exited during start-up (see its log)`);
    const r = await cli(address, ['operator', 'cluster', 'health']);
    if (r.ok && r.out.includes('SERVING')) return;
    last = r.out.trim().split('\n').slice(-1)[0] ?? '';
    if (Date.now() > deadline) throw new Error(`Temporal cluster at ${address} not SERVING within ${timeoutMs} ms: ${last}`);
    await sleep(500);
  }
}

/** Creates the namespace (idempotent: an existing one is fine) and Shepherd's search attributes. */
export async function setUpNamespace(address: string, namespace: string, retention = '72h'): Promise<void> {
  const created = await cli(address, ['operator', 'namespace', 'create', '--namespace', namespace, '--retention', retention]);
  if (!created.ok && !/already (exists|registered)/i.test(created.out))
    throw new Error(`creating namespace ${namespace} failed: ${created.out}`);
  await retry(`search attributes in ${namespace}`, 60_000, async () => {
    // The namespace becomes visible to every frontend after its registry refresh; until then
    // this fails with "namespace not found", which the retry absorbs.
    // One --type per --name: the CLI pairs them by position and drops names without a type.
    const args = ['operator', 'search-attribute', 'create', '--namespace', namespace];
    for (const name of SEARCH_ATTRIBUTES) args.push('--name', name, '--type', 'Keyword');
    const r = await cli(address, args);
    if (!r.ok && !/already exists/i.test(r.out)) throw new Error(r.out);
    const missing = await missingSearchAttributes(address, namespace);
    if (missing.length) throw new Error(`search attributes still missing: ${missing.join(', ')}`);
  });
}

export async function missingSearchAttributes(address: string, namespace: string): Promise<string[]> {
  const r = await cli(address, ['operator', 'search-attribute', 'list', '--namespace', namespace, '--output', 'json']);
  if (!r.ok) throw new Error(`listing search attributes failed: ${r.out}`);
  const present = new Set(
    JSON.stringify(JSON.parse(r.out))
      .match(/"[A-Za-z]+"/g)
      ?.map((s) => s.slice(1, -1)),
  );
  return SEARCH_ATTRIBUTES.filter((n) => !present.has(n));
}

async function retry(what: string, timeoutMs: number, fn: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      await sleep(500);
    }
  }
}
