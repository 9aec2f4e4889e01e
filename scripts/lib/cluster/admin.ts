import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

// The server's AdminService is not in the SDK's protos (it is internal to the server). These are
// the few messages we need, with the field numbers of
// go.temporal.io/server@v1.29.1/proto/internal/temporal/server/api/adminservice/v1/request_response.proto.
const root = protobuf.Root.fromJSON({
  nested: {
    WorkflowExecution: { fields: { workflowId: { type: 'string', id: 1 }, runId: { type: 'string', id: 2 } } },
    DescribeHistoryHostRequest: {
      fields: {
        hostAddress: { type: 'string', id: 1 },
        shardId: { type: 'int32', id: 2 },
        namespace: { type: 'string', id: 3 },
        workflowExecution: { type: 'WorkflowExecution', id: 4 },
      },
    },
    DescribeHistoryHostResponse: {
      fields: {
        shardsNumber: { type: 'int32', id: 1 },
        shardIds: { rule: 'repeated', type: 'int32', id: 2 },
        address: { type: 'string', id: 5 },
      },
    },
    DescribeMutableStateRequest: {
      fields: {
        namespace: { type: 'string', id: 1 },
        execution: { type: 'WorkflowExecution', id: 2 },
        skipForceReload: { type: 'bool', id: 3 },
      },
    },
    DescribeMutableStateResponse: { fields: { shardId: { type: 'string', id: 1 }, historyAddr: { type: 'string', id: 2 } } },
  },
});

const SERVICE = '/temporal.server.api.adminservice.v1.AdminService';

export interface HistoryHostInfo {
  /** The host's gRPC address (its membership identity), e.g. 127.0.0.1:41234. */
  address: string;
  shardIds: number[];
}

export interface AdminClient {
  /** The history host that owns the workflow's shard, and that shard. */
  workflowShard(namespace: string, workflowId: string): Promise<{ shardId: number; address: string }>;
  /** The shards a history host (by gRPC address) owns right now. */
  hostShards(hostAddress: string): Promise<HistoryHostInfo>;
  close(): void;
}

export function connectAdmin(frontendAddress: string): AdminClient {
  const client = new grpc.Client(frontendAddress, grpc.credentials.createInsecure());
  function call<T>(method: string, reqType: string, resType: string, body: Record<string, unknown>): Promise<T> {
    const Req = root.lookupType(reqType);
    const Res = root.lookupType(resType);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        `${SERVICE}/${method}`,
        (v: Record<string, unknown>) => Buffer.from(Req.encode(Req.fromObject(v)).finish()),
        (b: Buffer) => Res.toObject(Res.decode(b), { defaults: true, arrays: true }) as T,
        body,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (err, res) => (err ? reject(err) : resolve(res as T)),
      );
    });
  }
  return {
    async workflowShard(namespace, workflowId) {
      const res = await call<{ shardId: string; historyAddr: string }>(
        'DescribeMutableState',
        'DescribeMutableStateRequest',
        'DescribeMutableStateResponse',
        {
          namespace,
          execution: { workflowId },
          skipForceReload: true,
        },
      );
      return { shardId: Number(res.shardId), address: res.historyAddr };
    },
    async hostShards(hostAddress) {
      const res = await call<{ shardIds: number[]; address: string }>(
        'DescribeHistoryHost',
        'DescribeHistoryHostRequest',
        'DescribeHistoryHostResponse',
        { hostAddress },
      );
      return { address: res.address, shardIds: [...res.shardIds].sort((a, b) => a - b) };
    },
    close: () => client.close(),
  };
}
