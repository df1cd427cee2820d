import type { AccessList } from '../config/types.js';
import type { Identity } from '../identity/identity.js';

/** May this identity open a connection with this access list at all? Pure. */
export function isGrantedAccess(identity: Identity, access: AccessList): boolean {
  if (access.subjects.includes(identity.subject)) return true;
  if (identity.clientId !== undefined && access.clients.includes(identity.clientId)) return true;
  return identity.groups.some((g) => access.groups.includes(g));
}
