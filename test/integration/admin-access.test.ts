/**
 * Access requests over HTTP and the CLI (issue 5, point 4): a real gateway (admin API, approval
 * service, recorder; no PostgreSQL listener — sessions are the front door's tests) with
 * connections that require an approved access request, and tokens from the real dev OIDC
 * issuer. An agent asks with its own token (POST /api/access-requests or `portcullis access
 * request`), approvers decide with the approvals endpoints, and the service's `accessGrant` —
 * what the front door asks when a session opens — follows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/command.js';
import { main } from '../../src/cli/dispatch.js';
import type { AccessApprovalConfig, Config, ConnectionConfig } from '../../src/config/types.js';
import { startDevIdp, type DevClient, type DevIdp } from '../../src/identity/dev-idp.js';
import type { Identity } from '../../src/identity/identity.js';
import { fetchAccessToken } from '../../src/identity/token-client.js';
import { TokenVerifier } from '../../src/identity/verifier.js';
import { silentLogger } from '../../src/log.js';
import { startGateway, type Gateway } from '../../src/server/gateway.js';
import { pollUntil } from '../support/poll.js';
import { adminConfig, AGENT, APPROVER, APPROVER_2, issuerConfig, OUTSIDER } from '../support/stack.js';
import { runCli } from '../unit/cli/run-cli.js';

const HOUR = 3_600_000;
const REQUIRE: AccessApprovalConfig = { approvers: ['approvers'], minApprovals: 1, timeoutMs: HOUR, maxDurationMs: 8 * HOUR };

/** Never dialled here: these tests stop at the admin API and the approval service. */
function connection(name: string, requireApproval: AccessApprovalConfig | undefined): ConnectionConfig {
  return {
    name,
    type: 'postgres',
    target: { host: '127.0.0.1', port: 1, database: 'app', user: 'agent_rw', password: undefined, tls: 'disable', ca: undefined, connectTimeoutMs: 1_000 },
    access: { groups: ['agents'], subjects: [], clients: [], ...(requireApproval === undefined ? {} : { requireApproval }) },
    rules: [],
    defaultEffect: 'deny',
    masking: [],
    recordResultRows: 0,
  };
}

const CONNECTIONS = [
  connection('prod', REQUIRE),
  connection('staging', undefined),
  // Requests nobody decides expire in a second.
  connection('quick', { ...REQUIRE, timeoutMs: 1_000 }),
];

interface Reply {
  status: number;
  json: Record<string, unknown>;
}

let idp: DevIdp;
let dataDir: string;
let gateway: Gateway;
let base: string;
const tokens = { agent: '', outsider: '', approver: '', approver2: '' };
let agent: Identity;

async function tokenFor(client: DevClient): Promise<string> {
  return (await fetchAccessToken({ issuer: idp.issuer, clientId: client.clientId, clientSecret: client.clientSecret })).accessToken;
}

async function call(method: 'GET' | 'POST', path: string, token: string | undefined, body?: unknown, contentType = 'application/json'): Promise<Reply> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': contentType }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const askFor = (body: unknown, token = tokens.agent) => call('POST', '/api/access-requests', token, body);

/** The agent's access grant on `name`, as the front door asks for it when a session opens. */
const grant = (name = 'prod', who: Pick<Identity, 'subject' | 'clientId'> = agent) => gateway.approvals.accessGrant(who.subject, who.clientId, name);

/** The pending request whose reason is `reason` (made by a CLI run still in progress). */
async function pendingWithReason(reason: string): Promise<string> {
  const found = await pollUntil(
    async () => gateway.approvals.list({ status: 'pending' }).find((r) => r.reason === reason),
    (request) => request !== undefined,
    { what: `the access request "${reason}"` },
  );
  return found!.id;
}

/** `portcullis access request …` as the agent, in-process, with `signal` (to interrupt it) and its stderr readable while it runs. */
function agentCli(args: readonly string[], signal = new AbortController().signal) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t) };
  const done = main(['access', 'request', ...args, '--url', base, '--token', tokens.agent], io, signal).then((code) => ({
    code,
    stdout: out.join(''),
    stderr: err.join(''),
  }));
  return { done, stderr: () => err.join('') };
}

beforeAll(async () => {
  idp = await startDevIdp({ port: 0, clients: [AGENT, OUTSIDER, APPROVER, APPROVER_2], audience: 'portcullis' });
  dataDir = mkdtempSync(join(os.tmpdir(), 'portcullis-it-access-'));
  const config: Config = {
    file: '<test>',
    dataDir,
    log: { level: 'error' },
    identity: { issuers: [issuerConfig(idp.issuer)] },
    postgres: undefined,
    sql: { extraDangerousFunctions: [] },
    recording: { durability: 'process', writer: 'thread' },
    rules: [],
    masking: [],
    connections: CONNECTIONS,
    admin: adminConfig(),
  };
  gateway = await startGateway(config, silentLogger);
  base = `http://127.0.0.1:${gateway.admin!.port}`;
  [tokens.agent, tokens.outsider, tokens.approver, tokens.approver2] = await Promise.all([AGENT, OUTSIDER, APPROVER, APPROVER_2].map((c) => tokenFor(c)));
  agent = await new TokenVerifier([issuerConfig(idp.issuer)], { logger: silentLogger }).verify(tokens.agent);
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await idp?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

describe('POST /api/access-requests', () => {
  it('an agent asks; an approver approves; the grant admits the agent on that connection for the duration; revoking ends it', async () => {
    const asked = await askFor({ connection: 'prod', duration: '30m', reason: 'INC-4711: fix stuck orders' });
    expect(asked.status).toBe(201);
    expect(asked.json).toMatchObject({
      kind: 'access',
      status: 'pending',
      subject: agent.subject,
      clientId: AGENT.clientId,
      connection: 'prod',
      rule: 'access-request',
      text: 'access to connection "prod" for 30m: INC-4711: fix stuck orders',
      sessionId: null,
      grant: { kind: 'window', durationMs: 30 * 60_000 },
    });
    const id = asked.json['id'] as string;
    expect(grant()).toBeUndefined();

    const listed = await call('GET', '/api/approvals?status=pending', tokens.approver);
    expect((listed.json['approvals'] as { id: string }[]).map((a) => a.id)).toContain(id);
    expect(((await call('GET', '/api/approvals', tokens.outsider)).json['approvals'] as unknown[]).length).toBe(0);
    expect((await call('GET', `/api/approvals/${id}`, tokens.agent)).json['status']).toBe('pending');

    const self = await call('POST', `/api/approvals/${id}/approve`, tokens.agent, {});
    expect(self.status).toBe(403);
    expect(self.json['message']).toMatch(/nobody decides their own request/);

    const waiting = call('GET', `/api/approvals/${id}/wait?timeout=30s`, tokens.agent);
    const approved = await call('POST', `/api/approvals/${id}/approve`, tokens.approver, { comment: 'for the incident' });
    expect(approved.status).toBe(200);
    const decided = await waiting;
    expect(decided.json).toMatchObject({ id, status: 'approved', decisions: [{ decision: 'approve', comment: 'for the incident' }] });
    const approvedAt = Date.parse((decided.json['decisions'] as { at: string }[])[0]!.at);
    const until = Date.parse(decided.json['grantExpiresAt'] as string);
    expect(until - approvedAt).toBe(30 * 60_000);

    expect(grant()).toEqual({ requestId: id, expiresAt: until });
    expect(grant('staging')).toBeUndefined();
    expect(grant('prod', { subject: APPROVER.clientId, clientId: APPROVER.clientId })).toBeUndefined();
    // It releases no operation: redeem() never returns it, whatever the binding.
    expect(gateway.approvals.redeem({ subject: agent.subject, clientId: agent.clientId, connection: 'prod', rule: 'access-request', operationHash: 'a'.repeat(64) })).toBeUndefined();

    const revoked = await call('POST', `/api/approvals/${id}/revoke`, tokens.approver2, { comment: 'incident closed' });
    expect(revoked.json).toMatchObject({ status: 'revoked', revocation: { subject: APPROVER_2.clientId, comment: 'incident closed' } });
    expect(grant()).toBeUndefined();
  });

  it('a denial admits nothing', async () => {
    const asked = await askFor({ connection: 'prod', duration: '10m', reason: 'look around' });
    const denied = await call('POST', `/api/approvals/${asked.json['id'] as string}/deny`, tokens.approver, { comment: 'use staging' });
    expect(denied.json).toMatchObject({ status: 'denied' });
    expect(grant()).toBeUndefined();
  });

  it.each<[string, unknown, number, RegExp]>([
    ['an unknown connection', { connection: 'prdo', duration: '30m', reason: 'x' }, 400, /^there is no connection "prdo": check the name; you may request access to "prod", "quick"$/],
    ['a connection without require_approval', { connection: 'staging', duration: '30m', reason: 'x' }, 400, /^connection "staging" does not require an access request/],
    ['a duration above max_duration', { connection: 'prod', duration: '9h', reason: 'x' }, 400, /9h is longer than this connection allows \(max_duration 8h\)/],
    ['a bad duration', { connection: 'prod', duration: 'half an hour', reason: 'x' }, 400, /^"duration": invalid duration "half an hour"/],
    ['no reason', { connection: 'prod', duration: '30m', reason: '' }, 400, /^"reason" must say why you need access/],
    ['an unknown field', { connection: 'prod', duration: '30m', reason: 'x', grant: 'forever' }, 400, /^unknown field "grant"/],
  ])('400 for %s', async (_name, body, status, message) => {
    const reply = await askFor(body);
    expect(reply.status).toBe(status);
    expect(reply.json).toMatchObject({ error: 'bad_request', message: expect.stringMatching(message) });
  });

  it('401 without a token, 403 for an identity outside the access list, 415 for a form body, 405 for GET', async () => {
    const before = gateway.approvals.list().length;
    const anonymous = await call('POST', '/api/access-requests', undefined, { connection: 'prod', duration: '30m', reason: 'x' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.json['error']).toBe('unauthorized');
    const outsider = await askFor({ connection: 'prod', duration: '30m', reason: 'let me in' }, tokens.outsider);
    expect(outsider.status).toBe(403);
    expect(outsider.json['message']).toMatch(/^identity "outsider" is not in the access list of connection "prod", so it may not request access to it/);
    const form = await call('POST', '/api/access-requests', tokens.agent, 'connection=prod', 'application/x-www-form-urlencoded');
    expect(form.status).toBe(415);
    expect((await call('GET', '/api/access-requests', tokens.agent)).status).toBe(405);
    expect(gateway.approvals.list()).toHaveLength(before);
  });
});

describe('portcullis access request', () => {
  it('prints the pending request and how to get it approved (exit 0); --json prints the API\'s JSON', async () => {
    const run = await agentCli(['--connection', 'prod', '--duration', '1h', '--reason', 'weekly report']).done;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Access request \S+: PENDING, 0 of 1 approval\n/);
    expect(run.stdout).toContain(`  asked by      ${agent.subject} (client agent, groups agents)\n`);
    expect(run.stdout).toContain('  connection    prod\n  duration      1h, from the approval\n  reason        weekly report\n');
    expect(run.stdout).toContain('  approvers     members of "approvers"; 1 distinct approval needed, not by the requester\n');
    expect(run.stdout).toMatch(/ {2}expires {7}\S+ \S+Z \(in (59m\d+s|1h)\) unless decided\n/);
    expect(run.stderr).toMatch(/^ask a member of "approvers" to approve it \("portcullis approvals approve \S+"\), then connect/);

    const json = await agentCli(['--connection', 'prod', '--duration', '45m', '--reason', 'as json', '--json']).done;
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'access', status: 'pending', connection: 'prod', grant: { durationMs: 45 * 60_000 } });
  });

  it('--wait: exit 0 once an approver approves, with the access end shown', async () => {
    const run = agentCli(['--connection', 'prod', '--duration', '20m', '--reason', 'wait for approval', '--wait']);
    const id = await pendingWithReason('wait for approval');
    const approved = await runCli('approvals', 'approve', id, '--comment', 'ok', '--url', base, '--token', tokens.approver);
    expect(approved.code).toBe(0);
    const done = await run.done;
    expect(done.code).toBe(0);
    expect(done.stderr).toContain(`waiting for access request ${id} to be decided`);
    expect(done.stdout).toMatch(new RegExp(`^Access request ${id}: APPROVED, 1 of 1 approval\n`));
    expect(done.stdout).toMatch(/ {2}access until {2}\S+ \S+Z \(in (19m\d+s|20m)\)\n/);
    expect(done.stdout).toMatch(/APPROVE by approver: "ok"/);
    expect(grant()?.requestId).toBe(id);
  });

  it('--wait: exit 1 when denied, and when nobody decides before the request expires', async () => {
    const denied = agentCli(['--connection', 'prod', '--duration', '20m', '--reason', 'wait for denial', '--wait']);
    const id = await pendingWithReason('wait for denial');
    await runCli('approvals', 'deny', id, '--comment', 'no', '--url', base, '--token', tokens.approver);
    const deniedRun = await denied.done;
    expect(deniedRun.code).toBe(1);
    expect(deniedRun.stdout).toMatch(/: DENIED, /);

    const expired = await agentCli(['--connection', 'quick', '--duration', '5m', '--reason', 'nobody looks', '--wait']).done;
    expect(expired.code).toBe(1);
    expect(expired.stdout).toMatch(/: EXPIRED, 0 of 1 approval\n/);
    expect(expired.stdout).toContain('nobody decided it in time; ask again');
    expect(grant('quick')).toBeUndefined();
  });

  it('--wait: exit 3 (still pending) when interrupted, saying how to wait again', async () => {
    const stop = new AbortController();
    const run = agentCli(['--connection', 'prod', '--duration', '20m', '--reason', 'interrupted', '--wait'], stop.signal);
    await pollUntil(async () => run.stderr(), (text) => text.includes('waiting for access request'), { what: 'the CLI to wait' });
    stop.abort();
    const done = await run.done;
    expect(done.code).toBe(3);
    expect(done.stdout).toContain(': PENDING, ');
    expect(done.stderr).toMatch(/is still pending; wait again with "portcullis approvals wait \S+"\n$/);
  });

  it('exit 1 with the server\'s refusal; exit 2 for a bad command line', async () => {
    const outsider = await runCli('access', 'request', '--connection', 'prod', '--duration', '30m', '--reason', 'x', '--url', base, '--token', tokens.outsider);
    expect(outsider.code).toBe(1);
    expect(outsider.stderr).toMatch(/^portcullis access request: identity "outsider" is not in the access list of connection "prod".*\(HTTP 403\)\n$/);
    const tooLong = await agentCli(['--connection', 'prod', '--duration', '2d', '--reason', 'x']).done;
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toContain('2d is longer than this connection allows (max_duration 8h): ask for 8h or less (HTTP 400)');

    for (const [args, message] of [
      [['--duration', '30m', '--reason', 'x'], 'give --connection NAME'],
      [['--connection', 'prod', '--reason', 'x'], 'give --duration TIME'],
      [['--connection', 'prod', '--duration', '30m'], 'give --reason TEXT'],
      [['--connection', 'prod', '--duration', '30 minutes', '--reason', 'x'], '--duration "30 minutes": expected a duration such as "30m"'],
      [['--connection', 'prod', '--duration', '0s', '--reason', 'x'], '--duration "0s"'],
      [['extra', '--connection', 'prod', '--duration', '30m', '--reason', 'x'], 'unexpected argument "extra"'],
    ] as const) {
      const run = await agentCli(args).done;
      expect(run.code, message).toBe(2);
      expect(run.stderr).toContain(message);
    }
  });
});
