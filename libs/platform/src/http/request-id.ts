import { newId } from '@keygate/contracts';

// The one request-id generator. A caller's own X-Request-Id (REST header or gRPC metadata) is kept when it is a
// short token, so a client can follow its request through our logs; anything else gets a fresh req_ id.
const GIVEN_ID = /^[\w.-]{1,64}$/;

export const newRequestId = (): string => newId('req');

export const requestIdFrom = (given: unknown): string =>
  typeof given === 'string' && GIVEN_ID.test(given) ? given : newRequestId();
