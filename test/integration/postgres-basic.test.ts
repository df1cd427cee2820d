import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTSIDER, startStack, type Stack } from '../support/stack.js';

describe('PostgreSQL front door: authentication and relay', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('lets an agent with a valid token query the target', async () => {
    const client = await stack.connect();
    try {
      const r = await client.query('SELECT current_user AS u, count(*)::int AS n FROM customers');
      expect(r.rows[0].u).toBe('agent_rw');
      expect(r.rows[0].n).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
  });

  it('refuses a bad token with a FATAL naming the problem', async () => {
    const client = new pg.Client(stack.clientConfig('not-a-token'));
    await expect(client.connect()).rejects.toThrow(/invalid access token/);
  });

  it('refuses an identity outside the access list', async () => {
    const client = new pg.Client(stack.clientConfig(await stack.token(OUTSIDER)));
    await expect(client.connect()).rejects.toThrow(/access to connection "demo" refused/);
  });

  it('tells an authenticated agent that a connection does not exist', async () => {
    const client = new pg.Client(stack.clientConfig(await stack.token(), 'nope'));
    await expect(client.connect()).rejects.toThrow(/connection "nope" does not exist/);
  });

  it('does not reveal whether a connection exists to an unauthenticated caller', async () => {
    const client = new pg.Client(stack.clientConfig('garbage', 'nope'));
    const err = await client.connect().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/invalid access token/);
    expect(err?.message).not.toMatch(/nope/);
  });
});
