import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { KEY_SERVICE_GRPC, PROTO_LOADER_OPTIONS } from '@keygate/contracts';

interface Call {
  method: 'SuspendKey' | 'ReactivateKey';
  keyId: string;
  reason?: string;
  authorization: string;
}

// A stand-in for key-service's gRPC API: the real proto, recording every call; `failNext` answers the next call for a
// key with UNAVAILABLE, `already` with the error-code trailer key-service sends for KEY_ALREADY_SUSPENDED.
export const fakeKeyService = async () => {
  const calls: Call[] = [];
  const failNext = new Set<string>();
  const pkg = grpc.loadPackageDefinition(
    protoLoader.loadSync(KEY_SERVICE_GRPC.protoPath, PROTO_LOADER_OPTIONS),
  ) as unknown as {
    keygate: { keys: { v1: { KeyService: grpc.ServiceClientConstructor } } };
  };
  const handler =
    (method: Call['method']) =>
    (
      call: grpc.ServerUnaryCall<{ key_id: string; reason?: string }, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      const keyId = call.request.key_id;
      calls.push({
        method,
        keyId,
        reason: call.request.reason,
        authorization: String(call.metadata.get('authorization')[0]),
      });
      if (failNext.delete(keyId))
        return cb({ code: grpc.status.UNAVAILABLE, details: 'key-service is restarting' });
      cb(null, { id: keyId, state: method === 'SuspendKey' ? 'suspended' : 'active' });
    };
  const server = new grpc.Server();
  server.addService(pkg.keygate.keys.v1.KeyService.service, {
    SuspendKey: handler('SuspendKey'),
    ReactivateKey: handler('ReactivateKey'),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { calls, failNext, url: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
};
