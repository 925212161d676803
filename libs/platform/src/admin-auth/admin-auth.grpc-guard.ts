import type { Metadata } from '@grpc/grpc-js';
import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { requestIdFrom } from '../http/request-id';
import type { Caller } from './actor';
import { AdminAuthError, AdminAuthenticator } from './admin-authenticator';

const RPC_ACCESS = 'keygate:rpc-access';
export type RpcAccess = 'read' | 'write';

// Every RPC states whether it reads or writes: the gRPC version of the REST guard's GET-versus-the-rest rule
// (auditor tokens may only read). An RPC without it counts as a write.
export const RpcAccessLevel = (access: RpcAccess) => SetMetadata(RPC_ACCESS, access);

// The guard hands the authenticated caller to the handler through the call's metadata object (the same
// instance reaches both), without writing anything into the metadata itself.
const callers = new WeakMap<Metadata, Caller>();

const first = (metadata: Metadata, key: string): unknown => metadata.get(key)[0];

// The gRPC adapter: the same authenticator as REST, the token in the `authorization` metadata.
@Injectable()
export class AdminGrpcGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AdminAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'rpc') return true;
    const metadata = context.switchToRpc().getContext<Metadata>();
    const access = this.reflector.get<RpcAccess | undefined>(RPC_ACCESS, context.getHandler()) ?? 'write';
    const actor = await this.auth.authenticate(first(metadata, 'authorization'));
    this.auth.authorize(actor, access === 'write');
    callers.set(metadata, { actor, requestId: requestIdFrom(first(metadata, 'x-request-id')) });
    return true;
  }
}

export const grpcCaller = (metadata: Metadata): Caller => {
  const caller = callers.get(metadata);
  if (!caller)
    throw new AdminAuthError('UNAUTHENTICATED', 'an admin token is required: authorization metadata');
  return caller;
};
