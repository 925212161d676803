import type { Metadata } from '@grpc/grpc-js';
import {
  applyDecorators,
  type CanActivate,
  type ExecutionContext,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GrpcMethod } from '@nestjs/microservices';
import { KEY_SERVICE_GRPC, newId } from '@keygate/contracts';
import { AdminAuthenticator } from '../admin-auth/admin-auth.guard';
import type { Caller } from '../api-keys/api-keys.service';
import { DomainError } from '../domain-errors';

const RPC_ACCESS = 'keygate:rpc-access';
export type RpcAccess = 'read' | 'write';

// Every RPC states whether it reads or writes: the gRPC version of the REST guard's GET-versus-the-rest rule
// (auditor tokens may only read). An RPC without the decorator counts as a write.
export const KeyServiceRpc = (method: string, access: RpcAccess) =>
  applyDecorators(GrpcMethod(KEY_SERVICE_GRPC.service, method), SetMetadata(RPC_ACCESS, access));

// The guard hands the authenticated caller to the handler through the call's metadata object (the same
// instance reaches both), without writing anything into the metadata itself.
const callers = new WeakMap<Metadata, Caller>();

const firstString = (metadata: Metadata, key: string): string | undefined => {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
};

const requestIdOf = (metadata: Metadata): string => {
  const given = firstString(metadata, 'x-request-id');
  return given && /^[\w.-]{1,64}$/.test(given) ? given : newId('req');
};

@Injectable()
export class GrpcAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AdminAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'rpc') return true;
    const metadata = context.switchToRpc().getContext<Metadata>();
    const access = this.reflector.get<RpcAccess | undefined>(RPC_ACCESS, context.getHandler()) ?? 'write';
    const actor = await this.auth.authenticate(firstString(metadata, 'authorization'));
    this.auth.authorize(actor, access === 'write');
    callers.set(metadata, { actor, requestId: requestIdOf(metadata) });
    return true;
  }
}

export const grpcCaller = (metadata: Metadata): Caller => {
  const caller = callers.get(metadata);
  if (!caller) throw new DomainError('UNAUTHENTICATED', 'an admin token is required: authorization metadata');
  return caller;
};
