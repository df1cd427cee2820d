import type { ConnectionConfig } from '../config/types.js';
import type { Identity } from '../identity/identity.js';
import { isGrantedAccess } from './access.js';
import type { Decision, Gate, Operation } from './operation.js';

/**
 * Builds the policy gate for a set of connections. Pure: no I/O, same answer for the
 * live gateway and offline checks.
 *
 * Opening a connection is decided by its `access` list. Statement-level rules are not
 * configurable yet, so every statement on a connection the identity may open is allowed.
 */
export function createGate(connections: readonly ConnectionConfig[]): Gate {
  const byName = new Map(connections.map((c) => [c.name, c]));
  return (identity: Identity, operation: Operation): Decision => {
    const connection = byName.get(operation.connection.name);
    if (!connection) {
      return { effect: 'deny', rule: 'unknown-connection', reason: `connection "${operation.connection.name}" does not exist` };
    }
    if (!isGrantedAccess(identity, connection.access)) {
      return {
        effect: 'deny',
        rule: 'access',
        reason:
          `identity "${identity.subject}" is not in the access list of connection "${connection.name}" ` +
          '(by group, subject or client id); ask a Portcullis administrator to grant access',
      };
    }
    return { effect: 'allow', rule: 'access', reason: 'identity is in the connection access list' };
  };
}
