import { describe, expect, it } from 'vitest';
import type { ConnectionConfig } from '../../../src/config/types.js';
import type { Identity } from '../../../src/identity/identity.js';
import { isGrantedAccess } from '../../../src/policy/access.js';
import { createGate } from '../../../src/policy/gate.js';
import type { Operation } from '../../../src/policy/operation.js';

const identity = (over: Partial<Identity> = {}): Identity => ({
  subject: 'agent-1',
  clientId: 'client-1',
  groups: ['agents'],
  scopes: [],
  issuer: 'https://issuer.example',
  expiresAt: Date.now() + 60_000,
  ...over,
});

const connection = (access: Partial<ConnectionConfig['access']>): ConnectionConfig => ({
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
  access: { groups: [], subjects: [], clients: [], ...access },
});

const op = (kind: Operation['kind'], name = 'prod'): Operation => ({
  kind,
  connection: { name, type: 'postgres' },
  text: kind === 'sql' ? 'SELECT 1' : '',
  via: 'test',
});

describe('isGrantedAccess', () => {
  it('grants by group, subject or client id', () => {
    expect(isGrantedAccess(identity(), connection({ groups: ['agents'] }).access)).toBe(true);
    expect(isGrantedAccess(identity({ groups: [] }), connection({ subjects: ['agent-1'] }).access)).toBe(true);
    expect(isGrantedAccess(identity({ groups: [] }), connection({ clients: ['client-1'] }).access)).toBe(true);
  });

  it('refuses when nothing matches, including a missing client id', () => {
    expect(isGrantedAccess(identity(), connection({ groups: ['dba'] }).access)).toBe(false);
    expect(isGrantedAccess(identity({ clientId: undefined, groups: [] }), connection({ clients: ['client-1'] }).access)).toBe(false);
    expect(isGrantedAccess(identity({ groups: ['Agents'] }), connection({ groups: ['agents'] }).access)).toBe(false);
  });
});

describe('createGate', () => {
  const gate = createGate([connection({ groups: ['agents'] })]);

  it('allows opening a connection the identity is granted', () => {
    expect(gate(identity(), op('session'))).toMatchObject({ effect: 'allow', rule: 'access' });
  });

  it('denies opening with a reason that says what to do', () => {
    const d = gate(identity({ groups: ['contractors'] }), op('session'));
    expect(d.effect).toBe('deny');
    expect(d.rule).toBe('access');
    expect(d.reason).toMatch(/not in the access list of connection "prod".*ask a Portcullis administrator/);
  });

  it('denies an unknown connection (fail closed)', () => {
    expect(gate(identity(), op('session', 'other'))).toMatchObject({ effect: 'deny', rule: 'unknown-connection' });
    expect(gate(identity(), op('sql', 'other'))).toMatchObject({ effect: 'deny' });
  });

  it('decides statements by the same access list until SQL rules exist', () => {
    expect(gate(identity(), op('sql')).effect).toBe('allow');
    expect(gate(identity({ groups: [] }), op('sql')).effect).toBe('deny');
  });
});
