import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { KEY_SERVICE_GRPC, PROTO_LOADER_OPTIONS } from '@keygate/contracts';

// A real @grpc/grpc-js client of keygate.keys.v1.KeyService for e2e tests, loaded from the same .proto.
// Responses are loosely typed on purpose: the tests assert the fields the .proto defines.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type GrpcMessage = Record<string, any>;

export interface KeyServiceGrpc {
  call<T = GrpcMessage>(method: string, request?: object, token?: string | null): Promise<T>;
  // The error a call fails with (the test fails if it succeeds).
  error(method: string, request?: object, token?: string | null): Promise<grpc.ServiceError>;
  close(): void;
}

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response: unknown) => void,
) => void;

export const keyServiceGrpc = (url: string, defaultToken: string): KeyServiceGrpc => {
  const definition = protoLoader.loadSync(KEY_SERVICE_GRPC.protoPath, PROTO_LOADER_OPTIONS);
  const at = (o: grpc.GrpcObject, name: string) => o[name] as grpc.GrpcObject;
  const pkg = grpc.loadPackageDefinition(definition);
  const Client = at(at(at(pkg, 'keygate'), 'keys'), 'v1')
    .KeyService as unknown as grpc.ServiceClientConstructor;
  const client = new Client(url, grpc.credentials.createInsecure()) as unknown as Record<string, Unary> &
    grpc.Client;
  const call = <T>(method: string, request: object = {}, token: string | null = defaultToken): Promise<T> =>
    new Promise((resolve, reject) => {
      const metadata = new grpc.Metadata();
      if (token !== null) metadata.set('authorization', `Bearer ${token}`);
      if (typeof client[method] !== 'function') return reject(new Error(`no RPC ${method}`));
      client[method](request, metadata, { deadline: Date.now() + 15_000 }, (err, res) =>
        err ? reject(err) : resolve(res as T),
      );
    });
  return {
    call,
    error: async (method, request, token) => {
      const outcome = await call(method, request, token).then(
        (res) => ({ res }),
        (err: grpc.ServiceError) => ({ err }),
      );
      if ('res' in outcome) throw new Error(`${method} succeeded: ${JSON.stringify(outcome.res)}`);
      return outcome.err;
    },
    close: () => client.close(),
  };
};

export const errorCode = (e: grpc.ServiceError): string | undefined => {
  const value = e.metadata?.get('error-code')[0];
  return typeof value === 'string' ? value : undefined;
};

export { status as GrpcStatus } from '@grpc/grpc-js';

// What `grpcurl <host> list` asks: the services the server announces through reflection (grpc.reflection.v1).
export const reflectedServices = (url: string): Promise<string[]> => {
  const protoPath = require.resolve('@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
  const definition = protoLoader.loadSync(protoPath, { keepCase: true });
  const pkg = grpc.loadPackageDefinition(definition);
  const at = (o: grpc.GrpcObject, name: string) => o[name] as grpc.GrpcObject;
  const Reflection = at(at(at(pkg, 'grpc'), 'reflection'), 'v1')
    .ServerReflection as unknown as grpc.ServiceClientConstructor;
  type ListReply = { list_services_response?: { service: { name: string }[] } };
  const client = new Reflection(url, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    ServerReflectionInfo: () => grpc.ClientDuplexStream<object, ListReply>;
  };
  return new Promise((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.on('data', (m: ListReply) => {
      resolve((m.list_services_response?.service ?? []).map((s) => s.name));
      stream.end();
      client.close();
    });
    stream.on('error', reject);
    stream.write({ list_services: '' });
  });
};
