import { Command, InvalidArgumentError } from 'commander';
import { startCluster } from './lib/cluster/cluster.js';

// `npm run cluster`: a real multi-process Temporal cluster on this machine's PostgreSQL
// (DATABASE_URL or SHEPHERD_CLUSTER_PG_URL names the server), until Ctrl-C.
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};
const opts = new Command('cluster')
  .option('--shards <n>', 'history shards', positive, 4)
  .option('--history-hosts <n>', 'history host processes', positive, 2)
  .option('--namespace <name>', 'namespace to create', 'default')
  .option('--keep', 'keep the databases, config and logs after stopping')
  .parse()
  .opts<{ shards: number; historyHosts: number; namespace: string; keep?: boolean }>();

const cluster = await startCluster({ ...opts, log: (m) => console.error(m) });
const owners = await cluster.shardOwners();
console.log(`Temporal cluster serving at ${cluster.address} (namespace ${cluster.namespace})`);
for (const [name, s] of cluster.services) {
  const shards = owners[name] ? ` shards ${owners[name].join(',')}` : '';
  console.log(`  ${name.padEnd(10)} pid ${s.pid()}  grpc 127.0.0.1:${s.spec.grpcPort}${shards}  log ${s.logFile}`);
}
console.log(`  databases  ${cluster.databases.persistence}, ${cluster.databases.visibility}`);
console.log(`\nRun workers against it:  TEMPORAL_ADDRESS=${cluster.address} npm run worker`);
console.log('Ctrl-C stops every process' + (opts.keep ? ' and keeps the databases and logs.' : ' and drops the databases.'));

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.error('stopping the cluster...');
  await cluster.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
