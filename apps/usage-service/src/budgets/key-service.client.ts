import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { KEY_SERVICE_GRPC, PROTO_LOADER_OPTIONS } from '@keygate/contracts';

// What a SuspendKey/ReactivateKey call ended in, from the budget enforcer's point of view.
export type KeyCallOutcome =
  | { kind: 'done' }
  | { kind: 'already' } // KEY_ALREADY_SUSPENDED / KEY_NOT_SUSPENDED: the key is already where we wanted it
  | { kind: 'gone'; code: string } // not found, revoked, deleted: nothing to enforce any more
  | { kind: 'retry'; error: string }; // unavailable, timeout, auth misconfigured...: try again later

type Callback = (err: grpc.ServiceError | null, res?: unknown) => void;
type Rpc = (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: Callback) => grpc.ClientUnaryCall;
type KeyServiceStub = grpc.Client & { SuspendKey: Rpc; ReactivateKey: Rpc };

const errorCode = (e: grpc.ServiceError): string => {
  const fromTrailer = e.metadata?.get('error-code')?.[0];
  if (typeof fromTrailer === 'string' && fromTrailer) return fromTrailer;
  return /\b([A-Z][A-Z_]{3,})\b/.exec(e.details ?? e.message)?.[1] ?? grpc.status[e.code] ?? 'UNKNOWN';
};

export const classify = (e: grpc.ServiceError): KeyCallOutcome => {
  const code = errorCode(e);
  if (code === 'KEY_ALREADY_SUSPENDED' || code === 'KEY_NOT_SUSPENDED') return { kind: 'already' };
  if (
    e.code === grpc.status.NOT_FOUND ||
    ['KEY_NOT_FOUND', 'KEY_REVOKED', 'KEY_ALREADY_REVOKED'].includes(code)
  )
    return { kind: 'gone', code };
  return { kind: 'retry', error: `${grpc.status[e.code] ?? e.code}: ${code}` };
};

// key-service's gRPC API, reduced to the two calls budgets need. The proto is loaded at the first call (from the
// repository's libs/contracts/proto), so a missing or broken proto delays enforcement (retried) instead of stopping
// ingestion. Authenticated as the bootstrap admin with `authorization: Bearer <ADMIN_TOKEN>` metadata.
export class KeyServiceClient {
  private stub?: KeyServiceStub;

  constructor(
    private readonly url: string,
    private readonly adminToken: string,
    private readonly timeoutMs: number,
  ) {}

  suspend(keyId: string, reason: string): Promise<KeyCallOutcome> {
    return this.call('SuspendKey', { key_id: keyId, reason });
  }

  reactivate(keyId: string): Promise<KeyCallOutcome> {
    return this.call('ReactivateKey', { key_id: keyId });
  }

  // Loads the proto and connects ahead of the first call, so a suspension does not pay for it. Best effort: a
  // failure here is retried by the first real call.
  warmUp(): void {
    try {
      this.client().waitForReady(Date.now() + this.timeoutMs, () => undefined);
    } catch {
      /* the first call reports it */
    }
  }

  close(): void {
    this.stub?.close();
  }

  private call(method: 'SuspendKey' | 'ReactivateKey', req: object): Promise<KeyCallOutcome> {
    let stub: KeyServiceStub;
    try {
      stub = this.client();
    } catch (e) {
      return Promise.resolve({
        kind: 'retry',
        error: `cannot load the key-service proto: ${(e as Error).message}`,
      });
    }
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${this.adminToken}`);
    return new Promise((resolve) => {
      stub[method](req, md, { deadline: Date.now() + this.timeoutMs }, (err) =>
        resolve(err ? classify(err) : { kind: 'done' }),
      );
    });
  }

  private client(): KeyServiceStub {
    if (this.stub) return this.stub;
    const definition = protoLoader.loadSync(KEY_SERVICE_GRPC.protoPath, PROTO_LOADER_OPTIONS);
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      keygate: { keys: { v1: { KeyService: grpc.ServiceClientConstructor } } };
    };
    const Ctor = pkg.keygate.keys.v1.KeyService;
    this.stub = new Ctor(this.url, grpc.credentials.createInsecure()) as unknown as KeyServiceStub;
    return this.stub;
  }
}
