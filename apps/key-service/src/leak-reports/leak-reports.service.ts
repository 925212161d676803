import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { hashApiKey, maskApiKey, parseApiKey, type KeyEnvironment } from '@keygate/contracts';
import { type Caller } from '@keygate/platform';
import { ApiKeysService } from '../api-keys/api-keys.service';
import { isDomainError } from '../domain-errors';
import type { LeakFindingDto, LeakOutcome, LeakReportResultDto } from './leak-report.dto';

export interface LeakCandidate {
  candidate: string; // the string as found; hashed here and never kept
  source: string;
}

interface OwnedKey {
  id: string;
  hash: string;
  status: 'active' | 'suspended' | 'revoked';
  deleted: boolean;
  environment: KeyEnvironment;
  last4: string;
}

export const LEAKED_REASON = 'leaked';

// Leak reports: strings found anywhere are matched to keys by hash only. Every candidate is hashed and all are
// looked up in one query, so a string that is not ours costs the same as one that is and answers only "unknown".
@Injectable()
export class LeakReportsService {
  private readonly log = new Logger('leak-reports');

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly keys: ApiKeysService,
  ) {}

  // Which candidates are ours, without changing anything.
  async identify(candidates: string[]): Promise<(OwnedKey | null)[]> {
    // A malformed string is hashed too (and never matches): no early return to time.
    const hashes = candidates.map((c) => ({ hash: hashApiKey(c), wellFormed: parseApiKey(c) !== null }));
    const rows: OwnedKey[] = await this.db.query(
      // The current secret, or a previous one still inside its rotation grace period (it still works).
      `SELECT k.id, x.hash, k.status, k.deleted_at IS NOT NULL AS deleted, k.environment, k.last4
       FROM (
         SELECT id, hash FROM api_keys WHERE hash = ANY($1)
         UNION
         SELECT stream_id, data->>'previousHash' FROM events
         WHERE type = 'KeyRotated' AND created_at > now() - interval '31 days'
           AND data->>'previousHash' = ANY($1) AND (data->>'previousValidUntil')::timestamptz > now()
       ) x JOIN api_keys k ON k.id = x.id`,
      [hashes.map((h) => h.hash)],
    );
    const byHash = new Map(rows.map((r) => [r.hash, r]));
    return hashes.map((h) => (h.wellFormed ? (byHash.get(h.hash) ?? null) : null));
  }

  // Revokes each of ours with reason `leaked` and the candidate's source; reports per candidate.
  async report(candidates: LeakCandidate[], caller: Caller, revoke = true): Promise<LeakReportResultDto> {
    const owned = await this.identify(candidates.map((c) => c.candidate));
    const outcomes = new Map<string, Promise<LeakOutcome>>();
    const results = await Promise.all(
      owned.map(async (key, index): Promise<LeakFindingDto> => {
        if (!key) return { index, outcome: 'unknown' };
        let outcome = outcomes.get(key.id);
        if (!outcome) {
          outcome = this.revokeOne(key, candidates[index].source, caller, revoke);
          outcomes.set(key.id, outcome);
        }
        return {
          index,
          outcome: await outcome,
          keyId: key.id,
          maskedKey: maskApiKey(key.environment, key.last4),
        };
      }),
    );
    const count = (o: LeakOutcome) => results.filter((r) => r.outcome === o).length;
    const revoked = [...new Set(results.filter((r) => r.outcome === 'revoked').map((r) => r.keyId))];
    const found = [...new Set(results.filter((r) => r.outcome === 'left_active').map((r) => r.keyId))];
    // Key ids only: the strings themselves never reach a log line.
    if (revoked.length || found.length)
      this.log.warn({ msg: 'leak report', actor: caller.actor.id, revoked, leftActive: found });
    return {
      revoked: count('revoked'),
      alreadyRevoked: count('already_revoked'),
      leftActive: count('left_active'),
      unknown: count('unknown'),
      results,
    };
  }

  private async revokeOne(
    key: OwnedKey,
    source: string,
    caller: Caller,
    revoke: boolean,
  ): Promise<LeakOutcome> {
    // A deleted key no longer authenticates either: nothing left to revoke.
    if (key.status === 'revoked' || key.deleted) return 'already_revoked';
    // Alert-only mode (GITHUB_SECRET_SCANNING_ACTION=alert): an operator decides.
    if (!revoke) return 'left_active';
    try {
      await this.keys.revoke(key.id, LEAKED_REASON, caller, source);
      return 'revoked';
    } catch (e) {
      // Revoked or deleted by someone else between the lookup and now.
      if (isDomainError(e) && (e.code === 'KEY_ALREADY_REVOKED' || e.code === 'KEY_NOT_FOUND'))
        return 'already_revoked';
      throw e;
    }
  }
}
