import { Controller, Headers, HttpCode, Logger, Post, Req } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '@keygate/platform';
import { DomainError } from '../domain-errors';
import { KeyServiceEnv } from '../key-service.env';
import { GithubPublicKeys, verifyGithubSignature } from './github-public-keys';
import { MAX_REPORTED_KEYS } from './leak-report.dto';
import { LeakReportsService } from './leak-reports.service';
import type { RawBodyRequest } from './raw-body.hook';

export const GITHUB_SECRET_SCANNING_PATH = '/v1/secret-scanning/github';

interface GithubMatch {
  token: string;
  type: string;
  url?: string;
  source?: string;
}

// GitHub's documented answer: one entry per token, labelled.
export interface GithubLabel {
  token_raw: string;
  token_type: string;
  label: 'true_positive' | 'false_positive';
}

const isMatch = (m: unknown): m is GithubMatch => {
  const o = m as Record<string, unknown> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.token === 'string' &&
    o.token.length <= 512 &&
    typeof o.type === 'string' &&
    (o.url === undefined || typeof o.url === 'string') &&
    (o.source === undefined || typeof o.source === 'string')
  );
};

const unauthenticated = () =>
  new DomainError('UNAUTHENTICATED', 'a valid GitHub secret scanning signature is required');

// GitHub secret scanning partner endpoint: GitHub posts the kg_ strings it found in public code, signed with its
// ECDSA key. Ours are revoked (or only reported, GITHUB_SECRET_SCANNING_ACTION=alert); the answer labels each.
@ApiExcludeController()
@Public()
@Controller(GITHUB_SECRET_SCANNING_PATH.slice(1))
export class GithubSecretScanningController {
  private readonly keys: GithubPublicKeys;
  private readonly revoke: boolean;
  private readonly log = new Logger('github-secret-scanning');

  constructor(
    private readonly leaks: LeakReportsService,
    env: KeyServiceEnv,
  ) {
    this.keys = new GithubPublicKeys(env.GITHUB_SECRET_SCANNING_KEYS);
    this.revoke = env.GITHUB_SECRET_SCANNING_ACTION === 'revoke';
  }

  @Post()
  @HttpCode(200)
  async report(
    @Req() req: RawBodyRequest,
    @Headers('github-public-key-identifier') keyId: string | undefined,
    @Headers('github-public-key-signature') signature: string | undefined,
  ): Promise<GithubLabel[]> {
    if (!this.keys.configured)
      throw new DomainError('SECRET_SCANNING_NOT_CONFIGURED', 'GITHUB_SECRET_SCANNING_KEYS is not set');
    if (!keyId || !signature || !req.rawBody) throw unauthenticated();
    const key = await this.keys.find(keyId).catch((e: unknown) => {
      this.log.error(`GITHUB_SECRET_SCANNING_KEYS could not be loaded: ${String(e)}`);
      throw new DomainError('SECRET_SCANNING_NOT_CONFIGURED', "GitHub's public keys could not be loaded");
    });
    if (!key || !verifyGithubSignature(req.rawBody, signature, key)) throw unauthenticated();
    const matches: unknown = req.body;
    if (!Array.isArray(matches) || matches.length > MAX_REPORTED_KEYS || !matches.every(isMatch))
      throw new DomainError(
        'VALIDATION_FAILED',
        `the body must be an array of at most ${MAX_REPORTED_KEYS} { token, type, url, source }`,
      );
    const result = await this.leaks.report(
      matches.map((m) => ({
        candidate: m.token,
        source: `GitHub secret scanning: ${m.url ?? 'no url'}${m.source ? ` (${m.source})` : ''}`.slice(
          0,
          500,
        ),
      })),
      { actor: { id: 'github-secret-scanning', role: 'admin' }, requestId: String(req.id) },
      this.revoke,
    );
    return matches.map((m, i) => ({
      token_raw: m.token,
      token_type: m.type,
      label: result.results[i].outcome === 'unknown' ? 'false_positive' : 'true_positive',
    }));
  }
}
