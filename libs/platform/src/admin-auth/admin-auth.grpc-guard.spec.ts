import { Metadata } from '@grpc/grpc-js';
import { Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { hasPrefix } from '@keygate/contracts';
import { AdminGrpcGuard, grpcCaller, RpcAccessLevel } from './admin-auth.grpc-guard';
import { AdminAuthError, AdminAuthenticator } from './admin-authenticator';
import { BOOTSTRAP_TOKEN, FakeAdminTokens } from './admin-tokens.fixtures';

class SpecRpcs {
  @RpcAccessLevel('read') list() {}
  @RpcAccessLevel('write') remove() {}
  undeclared() {}
}

const metadataWith = (entries: Record<string, string>): Metadata => {
  const m = new Metadata();
  for (const [k, v] of Object.entries(entries)) m.set(k, v);
  return m;
};

// The gRPC adapter: the token in the call's `authorization` metadata, the same authenticator as REST.
describe('AdminGrpcGuard', () => {
  const tokens = new FakeAdminTokens();
  tokens.issue('kgadm_admin', { id: 'adm_1', role: 'admin' });
  tokens.issue('kgadm_auditor', { id: 'adm_2', role: 'auditor' });
  tokens.issue('kgadm_revoked', { id: 'adm_3', role: 'admin' });
  tokens.revoke('kgadm_revoked');
  const guard = new AdminGrpcGuard(new Reflector(), new AdminAuthenticator(BOOTSTRAP_TOKEN, tokens.lookup));

  const rpc = (method: keyof SpecRpcs, metadata: Metadata) => {
    const context = new ExecutionContextHost([{}, metadata, {}], SpecRpcs, SpecRpcs.prototype[method]);
    context.setType('rpc');
    return guard.canActivate(context);
  };
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'allowed',
      (e: unknown) => (e instanceof AdminAuthError ? e.code : `not an AdminAuthError: ${String(e)}`),
    );

  it.each([
    ['missing', {}],
    ['malformed', { authorization: 'kgadm_admin' }],
    ['unknown', { authorization: 'Bearer kgadm_nobody' }],
    ['revoked', { authorization: 'Bearer kgadm_revoked' }],
  ])('refuses a %s token with UNAUTHENTICATED', async (_, entries) => {
    const metadata = metadataWith(entries);
    expect(await codeOf(rpc('list', metadata))).toBe('UNAUTHENTICATED');
    // Nothing for the handler: a handler reached anyway gets no caller.
    expect(() => grpcCaller(metadata)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('lets an auditor call read RPCs only; an RPC that does not say counts as a write', async () => {
    const auditor = () => metadataWith({ authorization: 'Bearer kgadm_auditor' });
    expect(await codeOf(rpc('list', auditor()))).toBe('allowed');
    expect(await codeOf(rpc('remove', auditor()))).toBe('FORBIDDEN');
    expect(await codeOf(rpc('undeclared', auditor()))).toBe('FORBIDDEN');
    expect(await codeOf(rpc('undeclared', metadataWith({ authorization: 'Bearer kgadm_admin' })))).toBe(
      'allowed',
    );
  });

  it("hands the handler the caller, with the client's request id or a new one", async () => {
    const traced = metadataWith({ authorization: 'Bearer kgadm_admin', 'x-request-id': 'trace-me.1' });
    await rpc('remove', traced);
    expect(grpcCaller(traced)).toEqual({ actor: { id: 'adm_1', role: 'admin' }, requestId: 'trace-me.1' });

    const untraced = metadataWith({
      authorization: `Bearer ${BOOTSTRAP_TOKEN}`,
      'x-request-id': 'no spaces!',
    });
    await rpc('remove', untraced);
    const caller = grpcCaller(untraced);
    expect(caller.actor).toEqual({ id: 'bootstrap', role: 'admin' });
    expect(hasPrefix(caller.requestId, 'req')).toBe(true);
  });

  it('leaves other transports to their own guard', async () => {
    const context = new ExecutionContextHost([{}, {}], SpecRpcs, SpecRpcs.prototype.remove);
    context.setType('http');
    await expect(guard.canActivate(context)).resolves.toBe(true);
  });
});
