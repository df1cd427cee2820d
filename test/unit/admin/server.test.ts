/**
 * The admin listener itself (no gateway): probes, HEAD, malformed HTTP, oversized headers,
 * an unreadable recording store, HTTPS, and logs that never hold a token.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminServer } from '../../../src/admin/server.js';
import type { AdminConfig } from '../../../src/config/types.js';
import { TokenVerifier } from '../../../src/identity/verifier.js';
import { createLogger } from '../../../src/log.js';
import { PrometheusMetrics } from '../../../src/metrics/prometheus.js';
import { FileKeyStore } from '../../../src/recording/key-store.js';
import { claims, issuerConfig, makeKey, sign, startIssuer, T0, type TestIssuer, type TestKey } from '../identity/issuer-fixture.js';
import { fullSession, open, removeTempDirs, tempDataDir } from '../recording/support.js';

const GROUPS = { auditors: ['auditors'], admins: [] };

let issuer: TestIssuer;
let key: TestKey;
let dataDir: string;
const logs: string[] = [];
let notReady: string | undefined;
const servers: AdminServer[] = [];

async function start(config: Partial<AdminConfig> = {}, dir = dataDir): Promise<string> {
  const server = new AdminServer({
    config: { host: '127.0.0.1', port: 0, tls: undefined, ...GROUPS, ...config },
    verifier: new TokenVerifier([issuerConfig(issuer.url)], { now: () => T0 }),
    dataDir: dir,
    publicKey: FileKeyStore.open(dataDir).publicKey(),
    metrics: new PrometheusMetrics({ connections: [], processMetrics: false }),
    readiness: [{ name: 'recorder', check: () => notReady }],
    logger: createLogger('debug', {}, (line) => void logs.push(line)),
  });
  servers.push(server);
  const { port } = await server.listen();
  return `${config.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
}

/** Writes raw bytes and returns everything the server sends before closing. */
function raw(base: string, bytes: string): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

beforeAll(async () => {
  key = await makeKey('k1');
  issuer = await startIssuer([key]);
  dataDir = tempDataDir();
  const recorder = open(dataDir);
  fullSession(recorder, 's-a');
  recorder.close();
});

afterAll(async () => {
  for (const server of servers) await server.close();
  await issuer?.stop();
  removeTempDirs();
});

describe('AdminServer', () => {
  it('answers /readyz 503 with each failing check\'s reason, then 200 once it passes', async () => {
    const base = await start();
    notReady = 'a recording commit failed';
    const down = await fetch(`${base}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ error: 'not_ready', message: 'not ready: recorder: a recording commit failed', checks: { recorder: 'a recording commit failed' } });
    notReady = undefined;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('answers HEAD with the headers only', async () => {
    const base = await start();
    const reply = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-length')).toBe(String(Buffer.byteLength(`${JSON.stringify({ status: 'ok' }, null, 2)}\n`)));
    expect(await reply.text()).toBe('');
  });

  it('answers unparseable HTTP and oversized headers with a JSON error, then closes', async () => {
    const base = await start();
    const garbage = await raw(base, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(garbage).toContain('cache-control: no-store');
    expect(JSON.parse(garbage.slice(garbage.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'bad_request', message: 'the request is not valid HTTP/1.1' });
    const huge = await raw(base, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge).toContain('"error":"headers_too_large"');
    const absolute = await raw(base, 'GET http://elsewhere/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(absolute).toMatch(/^HTTP\/1\.1 400 /);
    expect(absolute).toContain('"message": "the request target must be a path such as /api/sessions"');
  });

  it('answers 503 naming the file when the recordings cannot be read, and never logs the token', async () => {
    const base = await start({}, join(dataDir, 'missing'));
    const token = await sign(key, claims(issuer.url, T0, { groups: ['auditors'] }));
    const reply = await fetch(`${base}/api/sessions`, { headers: { authorization: `Bearer ${token}` } });
    expect(reply.status).toBe(503);
    const body = (await reply.json()) as { error: string; message: string };
    expect(body.error).toBe('recording_unavailable');
    expect(body.message).toMatch(/^cannot read the recordings: cannot open the recording database .*missing\/portcullis\.db/);
    await fetch(`${base}/api/sessions`, { headers: { authorization: `Bearer ${token}x` } });
    expect(logs.some((line) => line.includes('"route":"sessions"') && line.includes('"status":503'))).toBe(true);
    for (const line of logs) for (const part of token.split('.')) expect(line).not.toContain(part);
  });

  it('serves HTTPS with the configured certificate', async () => {
    const dir = tempDataDir().replace(/\/data$/, '');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'admin.key'), '-out', join(dir, 'admin.crt')], { stdio: 'ignore' });
    const tls = { cert: readFileSync(join(dir, 'admin.crt'), 'utf8'), key: readFileSync(join(dir, 'admin.key'), 'utf8') };
    const base = await start({ tls });
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`${base}/healthz`, { ca: tls.cert }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    expect(JSON.parse(body)).toEqual({ status: 'ok' });
  });
});
