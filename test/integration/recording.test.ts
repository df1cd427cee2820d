/**
 * Recording through the live gateway: every decided statement is in the hash-chained
 * recording before it reaches the target, and a `kill -9` of the gateway mid-session
 * loses nothing that reached the target — even what only the recording journal held
 * (applied at restart; the session is ended as crashed).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDevIdp, type DevIdp } from '../../src/identity/dev-idp.js';
import { fetchAccessToken } from '../../src/identity/token-client.js';
import { AGENT, AGENT_DB_PASSWORD, startTargetPostgres, type StartedPostgres } from '../support/stack.js';
import { freePort } from '../support/ports.js';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'dist/cli/main.js');

interface EventRow {
  session_id: string;
  seq: number;
  type: string;
  payload: string;
}

function events(dataDir: string): EventRow[] {
  const db = new Database(path.join(dataDir, 'portcullis.db'), { readonly: true });
  try {
    return db.prepare('SELECT session_id, seq, type, payload FROM events ORDER BY session_id, seq').all() as EventRow[];
  } finally {
    db.close();
  }
}

function startGatewayProcess(config: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('postgres front door listening')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`gateway exited with ${code}: ${err}`)));
  });
}

describe('recording through the gateway', () => {
  let target: StartedPostgres;
  let idp: DevIdp;
  let dir: string;
  let config: string;
  let port: number;
  let token: string;

  beforeAll(async () => {
    target = await startTargetPostgres();
    idp = await startDevIdp({ port: 0, clients: [AGENT], audience: 'portcullis' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'portcullis-rec-'));
    chmodSync(dir, 0o755);
    port = await freePort();
    const example = readFileSync(path.join(ROOT, 'examples/portcullis.yaml'), 'utf8');
    config = path.join(dir, 'portcullis.yaml');
    writeFileSync(
      config,
      example
        .replace('data_dir: ../.portcullis', `data_dir: ${dir}/state`)
        .replace('http://127.0.0.1:9000', idp.issuer)
        .replaceAll('port: 54329', `port: ${target.pg.port}`)
        .replaceAll('${env:DEMO_DB_PASSWORD}', AGENT_DB_PASSWORD)
        .replace('address: 127.0.0.1:6432', `address: 127.0.0.1:${port}`)
        .replace('listen: 127.0.0.1:6480', 'listen: 127.0.0.1:0')
        // The example's SSH connection is not used here: credentials that only need to parse.
        .replace('address: 127.0.0.1:2222', 'address: 127.0.0.1:0')
        .replace('${env:DEMO_SSH_USER}', 'nobody')
        .replace('${env:DEMO_SSH_KEY}', '"-----BEGIN OPENSSH PRIVATE KEY-----\\nunused\\n-----END OPENSSH PRIVATE KEY-----"')
        .replace('${env:DEMO_SSH_HOST_KEY}', 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8'),
    );
    token = (await fetchAccessToken({ issuer: idp.issuer, clientId: AGENT.clientId, clientSecret: AGENT.clientSecret })).accessToken;
  }, 120_000);

  afterAll(async () => {
    await idp?.close();
    await target?.pg.stop();
  });

  it('records every statement with its decision, and kill -9 loses nothing that reached the target', async () => {
    const gateway = await startGatewayProcess(config);
    const client = new pg.Client({ host: '127.0.0.1', port, database: 'demo', user: 'agent', password: token });
    client.on('error', () => undefined);
    await client.connect();
    // Another connection holds the database's write lock: what follows is durable only in the
    // recording journal when the gateway dies.
    const other = new Database(path.join(dir, 'state', 'portcullis.db'), { timeout: 5000 });
    other.exec('BEGIN EXCLUSIVE');
    try {
      await client.query("SELECT 'marker-1' AS m");
      await expect(client.query('DELETE FROM orders')).rejects.toThrow(/no-writes/);
      await client.query("SELECT 'marker-2' AS m");
      gateway.kill('SIGKILL');
      await new Promise((resolve) => gateway.on('exit', resolve));
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(events(path.join(dir, 'state')).filter((e) => e.type === 'operation')).toEqual([]);

    // Restart: the journal's recordings are applied, the session the killed process left open
    // is ended as crashed, and the whole recording verifies.
    const restarted = await startGatewayProcess(config);
    // The crashed session's end is recorded at start, through the journal: the database has it a moment later.
    const after = await vi.waitFor(
      () => {
        const rows = events(path.join(dir, 'state'));
        expect(rows.some((e) => e.type === 'session-end')).toBe(true);
        return rows;
      },
      { timeout: 5000 },
    );
    const ops = after.filter((e) => e.type === 'operation').map((e) => JSON.parse(e.payload) as { text: string; effect: string; rule: string });
    expect(ops.map((o) => [o.text, o.effect])).toEqual([
      ["SELECT 'marker-1' AS m", 'allow'],
      ['DELETE FROM orders', 'deny'],
      ["SELECT 'marker-2' AS m", 'allow'],
    ]);
    expect(ops[1]!.rule).toBe('no-writes');
    // What the rules matched on is kept with the decision.
    expect((ops[1] as unknown as { facts: unknown }).facts).toMatchObject([
      { kind: 'delete', class: 'write', tables: [{ name: 'orders', access: 'write' }], flags: ['delete_without_where'] },
    ]);
    try {
      const end = after.find((e) => e.type === 'session-end');
      expect(end && (JSON.parse(end.payload) as { endedBy: string }).endedBy).toBe('crash');
      const verify = await exec(process.execPath, [BIN, 'audit', 'verify', '--data-dir', path.join(dir, 'state')]);
      expect(verify.stdout).toMatch(/ok/i);
    } finally {
      restarted.kill('SIGTERM');
      await new Promise((resolve) => restarted.on('exit', resolve));
    }
  }, 60_000);
});
