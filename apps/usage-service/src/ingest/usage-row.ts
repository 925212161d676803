import type { RequestOutcome } from '@keygate/contracts';

// One validated, priced RequestCompleted, as the ledger writer and the after-ingest listeners see it.
export interface UsageRow {
  requestId: string;
  keyId: string | null;
  route: string | null;
  provider: string | null;
  upstreamModel: string | null;
  endpoint: string;
  status: number;
  outcome: RequestOutcome;
  errorCode: string | null;
  promptTokens: number;
  completionTokens: number;
  streamed: boolean;
  latencyMs: number;
  clientIp: string | null;
  clientNetwork: string | null; // networkOf(clientIp): where invalid-key bursts are counted
  time: string; // ISO-8601 as emitted: part of the dedupe key, so never re-formatted
  timeMs: number;
  costUsd: string;
}

// Gateway auth failures: the key (or a string posing as one) was not accepted.
export const AUTH_FAILURE_CODES = ['invalid_api_key', 'key_revoked', 'key_expired'] as const;

export const isAuthFailure = (r: Pick<UsageRow, 'outcome' | 'errorCode'>): boolean =>
  r.outcome === 'rejected' && (AUTH_FAILURE_CODES as readonly (string | null)[]).includes(r.errorCode);

// A request the key authenticated for: what "used" means for last-used times, networks and spikes.
export const isKeyUse = (r: UsageRow): r is UsageRow & { keyId: string } =>
  r.keyId !== null && !isAuthFailure(r);

// Runs after a batch is committed to the ledger, before its offsets are: every listener is idempotent, because a
// redelivered batch (crash between commit and offsets) runs it again, duplicates included.
export interface AfterIngest {
  readonly name: string;
  afterIngest(rows: UsageRow[]): Promise<void>;
}

export const AFTER_INGEST = Symbol('AFTER_INGEST');
