import { applyDecorators } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { KEY_SERVICE_GRPC } from '@keygate/contracts';
import { type RpcAccess, RpcAccessLevel } from '@keygate/platform';

// A keygate.keys.v1.KeyService method and whether it reads or writes (auditor tokens may only read); the
// management kit's AdminGrpcGuard authenticates it.
export const KeyServiceRpc = (method: string, access: RpcAccess) =>
  applyDecorators(GrpcMethod(KEY_SERVICE_GRPC.service, method), RpcAccessLevel(access));
