import {
  hasPrefix,
  isAggregateEvent,
  type AdminRole,
  type AggregateEvent,
  type DomainEvent,
} from '@keygate/contracts';
import { DomainError } from '../domain-errors';

// Admin tokens as a pure decider. Like API keys, only sha256(token) and the last 4 characters ever reach it;
// the plaintext is generated and shown once by the handler.

export type AdminTokenEvent = AggregateEvent<'adminToken'>;

export const isAdminTokenEvent = (event: DomainEvent): event is AdminTokenEvent =>
  isAggregateEvent('adminToken', event);

export const ADMIN_ROLES: readonly AdminRole[] = ['admin', 'auditor'];

export interface MissingAdminToken {
  exists: false;
  version: number;
}

export interface ExistingAdminToken {
  exists: true;
  version: number; // events applied = stream position
  tokenId: string;
  name: string;
  role: AdminRole;
  hash: string;
  last4: string;
  revoked: boolean;
}

export type AdminTokenState = MissingAdminToken | ExistingAdminToken;

export const initialState = (): AdminTokenState => ({ exists: false, version: 0 });

export const evolve = (state: AdminTokenState, event: AdminTokenEvent): AdminTokenState => {
  const version = state.version + 1;
  switch (event.type) {
    case 'AdminTokenIssued': {
      const { tokenId, name, role, hash, last4 } = event.data;
      return { exists: true, version, tokenId, name, role, hash, last4, revoked: false };
    }
    case 'AdminTokenRevoked':
      return state.exists ? { ...state, version, revoked: true } : { ...state, version };
    default: {
      const unhandled: never = event;
      throw new Error(`unhandled admin token event ${(unhandled as { type: string }).type}`);
    }
  }
};

export type AdminTokenCommand =
  | {
      type: 'IssueAdminToken';
      data: { tokenId: string; name: string; role: AdminRole; hash: string; last4: string };
    }
  | { type: 'RevokeAdminToken'; data: { tokenId: string } };

export interface AdminTokenContext {
  now: Date; // unused by the current events; kept so every decider takes the same kind of ctx
}

const invalidField = (field: string, reason: string): DomainError =>
  new DomainError('VALIDATION_FAILED', `${field} ${reason}`, { field });

export const decide = (
  command: AdminTokenCommand,
  state: AdminTokenState,
  _ctx: AdminTokenContext,
): AdminTokenEvent[] => {
  switch (command.type) {
    case 'IssueAdminToken': {
      const { tokenId, name, role, hash, last4 } = command.data;
      if (state.exists) {
        throw new DomainError('ADMIN_TOKEN_ALREADY_EXISTS', `admin token ${tokenId} already exists`, {
          tokenId,
        });
      }
      if (typeof tokenId !== 'string' || !hasPrefix(tokenId, 'adm'))
        throw invalidField('tokenId', 'must be an adm_… id');
      if (typeof name !== 'string' || name.trim() === '' || name.trim().length > 128) {
        throw invalidField('name', 'must be 1-128 characters');
      }
      if (!ADMIN_ROLES.includes(role)) throw invalidField('role', `must be one of ${ADMIN_ROLES.join(', ')}`);
      // Guards against the plaintext token being passed where its hash belongs.
      if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash))
        throw invalidField('hash', 'must be a hex SHA-256');
      if (typeof last4 !== 'string' || last4.length !== 4)
        throw invalidField('last4', 'must be 4 characters');
      return [{ type: 'AdminTokenIssued', data: { tokenId, name: name.trim(), role, hash, last4 } }];
    }
    case 'RevokeAdminToken': {
      const { tokenId } = command.data;
      if (!state.exists) {
        throw new DomainError('ADMIN_TOKEN_NOT_FOUND', `admin token ${tokenId} not found`, { tokenId });
      }
      if (state.revoked) {
        throw new DomainError('ADMIN_TOKEN_ALREADY_REVOKED', `admin token ${tokenId} is already revoked`, {
          tokenId,
        });
      }
      return [{ type: 'AdminTokenRevoked', data: { tokenId } }];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unhandled admin token command ${(unhandled as { type: string }).type}`);
    }
  }
};

export const adminTokenDecider = { initialState, evolve, decide };
