import type { AdminRole } from '@keygate/contracts';

// Who is calling the management API: an admin token (its id, or "bootstrap" for ADMIN_TOKEN) and its role.
export interface Actor {
  id: string;
  role: AdminRole;
}

// The actor plus the request it came with: what a service records on the events it writes.
export interface Caller {
  actor: Actor;
  requestId: string;
}
