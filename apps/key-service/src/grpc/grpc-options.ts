import { ReflectionService } from '@grpc/reflection';
import { type GrpcOptions, Transport } from '@nestjs/microservices';
import { KEY_SERVICE_GRPC, PROTO_LOADER_OPTIONS } from '@keygate/contracts';

// keygate.keys.v1.KeyService on 0.0.0.0:KEY_SERVICE_GRPC_PORT, with server reflection (grpcurl works without
// the .proto). Requests are bounded like REST bodies.
export const keyServiceGrpcOptions = (port: number): GrpcOptions => ({
  transport: Transport.GRPC,
  options: {
    package: KEY_SERVICE_GRPC.package,
    protoPath: KEY_SERVICE_GRPC.protoPath,
    url: `0.0.0.0:${port}`,
    loader: PROTO_LOADER_OPTIONS,
    maxReceiveMessageLength: 256 * 1024,
    onLoadPackageDefinition: (pkg, server) => new ReflectionService(pkg).addToServer(server),
  },
});
