/** Hand-built identities, connections, rules and facts for the gate tests (no inspector needed). */
import type { PostgresConnectionConfig, RuleConfig, RuleEffect, SqlCondition } from '../../../src/config/types.js';
import type { Identity } from '../../../src/identity/identity.js';
import type { FunctionCall, SqlInspection, StatementFacts, TableAccess } from '../../../src/inspect/sql/facts.js';
import type { Operation } from '../../../src/policy/operation.js';

export const identity = (over: Partial<Identity> = {}): Identity => ({
  subject: 'agent-1',
  clientId: 'client-1',
  groups: ['agents'],
  scopes: [],
  issuer: 'https://issuer.example',
  expiresAt: Date.now() + 60_000,
  ...over,
});

export const connection = (over: Partial<PostgresConnectionConfig> = {}): PostgresConnectionConfig => ({
  name: 'prod',
  type: 'postgres',
  target: {
    host: 'db',
    port: 5432,
    database: 'app',
    user: 'u',
    password: 'p',
    tls: 'disable',
    ca: undefined,
    connectTimeoutMs: 1000,
  },
  access: { groups: ['agents'], subjects: [], clients: [] },
  rules: [],
  defaultEffect: 'deny',
  masking: [],
  recordResultRows: 0,
  ...over,
});

export interface RuleSpec {
  readonly identity?: { groups?: string[]; subjects?: string[]; clients?: string[] };
  readonly sql?: Partial<SqlCondition>;
  readonly reason?: string;
}

export function rule(name: string, effect: RuleEffect, spec: RuleSpec = {}): RuleConfig {
  return {
    name,
    effect,
    reason: spec.reason ?? (effect === 'allow' ? undefined : `${name} says no.`),
    review: effect === 'review' ? { approvers: ['dba'], minApprovals: 1, timeoutMs: 300_000, grant: { kind: 'once', ttlMs: 900_000 } } : undefined,
    when: {
      identity:
        spec.identity === undefined
          ? undefined
          : { groups: spec.identity.groups, subjects: spec.identity.subjects, clients: spec.identity.clients },
      sql:
        spec.sql === undefined
          ? undefined
          : {
              classes: spec.sql.classes,
              kinds: spec.sql.kinds,
              tables: spec.sql.tables,
              functions: spec.sql.functions,
              flags: spec.sql.flags,
              unparseable: spec.sql.unparseable ?? false,
            },
    },
  };
}

/** "schema.name" or "name" (unqualified). */
function qualified(text: string): { schema: string | undefined; name: string } {
  const dot = text.indexOf('.');
  return dot === -1 ? { schema: undefined, name: text } : { schema: text.slice(0, dot), name: text.slice(dot + 1) };
}

export const table = (text: string, access: TableAccess['access'] = 'read'): TableAccess => ({ ...qualified(text), access });
export const fn = (text: string): FunctionCall => qualified(text);

export const statement = (over: Partial<StatementFacts> = {}): StatementFacts => ({
  kind: 'select',
  class: 'read',
  tables: [table('public.orders')],
  functions: [],
  flags: [],
  text: 'SELECT * FROM public.orders',
  ...over,
});

export const parsed = (...statements: StatementFacts[]): SqlInspection => ({ ok: true, statements });

export function sqlOp(facts: SqlInspection | undefined, text?: string, name = 'prod'): Operation {
  const joined = facts?.ok === true ? facts.statements.map((s) => s.text).join('; ') : '';
  return {
    kind: 'sql',
    connection: { name, type: 'postgres' },
    text: text ?? joined,
    via: 'test',
    ...(facts === undefined ? {} : { facts }),
  };
}

export const sessionOp = (name = 'prod'): Operation => ({ kind: 'session', connection: { name, type: 'postgres' }, text: '', via: 'test' });
