import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configJsonSchema } from '../../../src/config/json-schema.js';

const EXAMPLE = `
data_dir: ./.data
log: { level: info }
identity:
  issuers:
    - issuer: http://127.0.0.1:9000
      audience: portcullis
      jwks_uri: https://keys.example/jwks.json
      groups_claim: groups
      algorithms: [RS256, ES256]
      clock_skew: 60s
      max_token_age: 24h
      strict_typ: false
listen:
  postgres:
    address: 127.0.0.1:6432
    tls:
      mode: require
      cert_file: ./tls/cert.pem
      key_file: ./tls/key.pem
      allow_loopback_plaintext: true
    max_message_size: 16MiB
    token_expiry_grace: 0s
    auth_timeout: 15s
connections:
  - name: demo
    type: postgres
    target:
      host: 127.0.0.1
      port: 5432
      database: app
      user: agent_rw
      password: \${env:DEMO_DB_PASSWORD}
      tls: verify-full
      ca_file: ./ca.pem
      connect_timeout: 10s
    access:
      groups: [agents]
      subjects: []
      clients: []
`;

function compile() {
  return new Ajv({ allErrors: true, strict: true }).compile(configJsonSchema());
}

describe('configJsonSchema', () => {
  it('is a draft-07 schema with an $id and title', () => {
    expect(configJsonSchema()).toMatchObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: expect.any(String),
      title: 'Portcullis configuration',
      type: 'object',
      additionalProperties: false,
    });
  });

  it('validates the example config and the minimal fixture', () => {
    const validate = compile();
    expect(validate(parse(EXAMPLE)), JSON.stringify(validate.errors)).toBe(true);
    const fixture = readFileSync(new URL('./fixtures/minimal.yaml', import.meta.url), 'utf8');
    expect(validate(parse(fixture)), JSON.stringify(validate.errors)).toBe(true);
  });

  it('rejects a typo', () => {
    const validate = compile();
    expect(validate(parse(EXAMPLE.replace('password:', 'pasword:')))).toBe(false);
    expect(validate.errors).toContainEqual(
      expect.objectContaining({
        instancePath: '/connections/0/target',
        keyword: 'additionalProperties',
        params: { additionalProperty: 'pasword' },
      }),
    );
  });

  it('rejects a symmetric algorithm and a bad duration', () => {
    const validate = compile();
    expect(validate(parse(EXAMPLE.replace('[RS256, ES256]', '[HS256]')))).toBe(false);
    expect(validate(parse(EXAMPLE.replace('clock_skew: 60s', 'clock_skew: soon')))).toBe(false);
  });

  it('documents every property', () => {
    const undocumented: string[] = [];
    const walk = (schema: unknown, path: string): void => {
      if (typeof schema !== 'object' || schema === null) return;
      const node = schema as { properties?: Record<string, { description?: string }>; items?: unknown; anyOf?: unknown[] };
      for (const [key, child] of Object.entries(node.properties ?? {})) {
        if (typeof child.description !== 'string' || child.description === '') undocumented.push(`${path}.${key}`);
        walk(child, `${path}.${key}`);
      }
      walk(node.items, `${path}[]`);
      node.anyOf?.forEach((branch) => walk(branch, path));
    };
    walk(configJsonSchema(), '');
    expect(undocumented).toEqual([]);
  });

  it('is plain JSON (no TypeBox symbols) and a fresh copy each time', () => {
    const schema = configJsonSchema();
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    expect(configJsonSchema()).not.toBe(schema);
  });
});
