/**
 * The approvals endpoints and CLI over HTTP: a real AdminServer with a real ApprovalService
 * (SQLite in a temp data dir), tokens from the real dev OIDC issuer (an agent, an outsider,
 * two approvers, an auditor and a gateway admin), and requests made through the service exactly as the front
 * door makes them when it holds an operation. The CLI runs in-process against the server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPROVAL_STATUSES } from '../../src/admin/query.js';
import { AdminServer } from '../../src/admin/server.js';
import { createApprovalService } from '../../src/approvals/service.js';
import type { ApprovalRequest, ApprovalService } from '../../src/approvals/types.js';
import { startDevIdp, type DevClient, type DevIdp } from '../../src/identity/dev-idp.js';
import type { Identity } from '../../src/identity/identity.js';
import { fetchAccessToken } from '../../src/identity/token-client.js';
import { TokenVerifier } from '../../src/identity/verifier.js';
import { silentLogger } from '../../src/log.js';
import { PrometheusMetrics } from '../../src/metrics/prometheus.js';
import { FileKeyStore } from '../../src/recording/key-store.js';
import { pollUntil } from '../support/poll.js';
import { freePort } from '../support/ports.js';
import { adminConfig, AGENT, APPROVER, APPROVER_2, AUDITOR, issuerConfig, OUTSIDER } from '../support/stack.js';
import { ask, type AskOptions } from '../unit/admin/approvals-fixture.js';
import { runCli } from '../unit/cli/run-cli.js';

interface Reply {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

let idp: DevIdp;
let dataDir: string;
let service: ApprovalService;
let verifier: TokenVerifier;
const servers: AdminServer[] = [];
let base: string;
/** In the admin groups of `adminConfig()`, and in no approvers group. */
const ADMIN: DevClient = { clientId: 'gateway-admin', clientSecret: 'gateway-admin-secret', groups: ['portcullis-admins'] };
const CLIENTS = [AGENT, OUTSIDER, APPROVER, APPROVER_2, AUDITOR, ADMIN];
const tokens: Record<'agent' | 'outsider' | 'approver' | 'approver2' | 'auditor' | 'admin', string> = {
  agent: '',
  outsider: '',
  approver: '',
  approver2: '',
  auditor: '',
  admin: '',
};
let agentIdentity: Identity;
/** Long polls the service is answering (it is the real service; only its wait() is observed). */
const waits = { started: 0, ended: 0 };

async function tokenFor(client: DevClient): Promise<string> {
  return (await fetchAccessToken({ issuer: idp.issuer, clientId: client.clientId, clientSecret: client.clientSecret })).accessToken;
}

async function startAdmin(approvals: ApprovalService | undefined): Promise<{ server: AdminServer; base: string }> {
  const server = new AdminServer({
    config: adminConfig(),
    verifier,
    dataDir,
    publicKey: FileKeyStore.openOrCreate(dataDir).publicKey(),
    metrics: new PrometheusMetrics({ connections: [], processMetrics: false }),
    readiness: [],
    logger: silentLogger,
    ...(approvals === undefined ? {} : { approvals }),
  });
  servers.push(server);
  const { port } = await server.listen();
  return { server, base: `http://127.0.0.1:${port}` };
}

/** The real service; wait() is counted so a test can see a long poll end. */
function observed(real: ApprovalService): ApprovalService {
  return new Proxy(real, {
    get(target, property) {
      if (property === 'wait') {
        return (id: string, signal?: AbortSignal) => {
          waits.started += 1;
          return target.wait(id, signal).finally(() => (waits.ended += 1));
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function call(method: string, path: string, token?: string, body?: unknown, headers: Record<string, string> = {}, at = base): Promise<Reply> {
  const response = await fetch(`${at}${path}`, {
    method,
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function held(options: AskOptions = {}): ApprovalRequest {
  return ask(service, agentIdentity, options);
}

function cli(...args: string[]) {
  return runCli(...args);
}

function asApprover(...args: string[]) {
  return cli(...args, '--url', base, '--token', tokens.approver);
}

beforeAll(async () => {
  idp = await startDevIdp({ port: 0, clients: CLIENTS, audience: 'portcullis' });
  verifier = new TokenVerifier([issuerConfig(idp.issuer)], { logger: silentLogger });
  dataDir = mkdtempSync(join(os.tmpdir(), 'portcullis-it-approvals-'));
  service = createApprovalService({ dataDir });
  ({ base } = await startAdmin(observed(service)));
  [tokens.agent, tokens.outsider, tokens.approver, tokens.approver2, tokens.auditor, tokens.admin] = await Promise.all(
    CLIENTS.map((client) => tokenFor(client)),
  );
  // The identity the front door would record for the agent's connection.
  agentIdentity = await verifier.verify(tokens.agent);
}, 60_000);

afterAll(async () => {
  for (const server of servers) await server.close();
  service?.close();
  await idp?.close();
  if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
});

describe('authentication and routing', () => {
  it('401 with a Bearer challenge without a token or with an invalid one, before anything else is judged', async () => {
    const request = held();
    const none = await call('POST', `/api/approvals/${request.id}/approve`, undefined, { comment: 'x' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="portcullis-admin"');
    expect(none.json['error']).toBe('unauthorized');
    const forged = await call('GET', '/api/approvals', `${tokens.approver}x`);
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer realm="portcullis-admin", error="invalid_token"/);
    // A body that would be refused (415) is not looked at before the token.
    expect((await call('POST', `/api/approvals/${request.id}/deny`, undefined, 'comment=x', { 'content-type': 'text/plain' })).status).toBe(401);
    expect(service.get(request.id)?.status).toBe('pending');
  });

  it('404 for an unknown id, 405 with Allow for the wrong method, no-store JSON everywhere', async () => {
    const unknown = await call('GET', '/api/approvals/no-such-request', tokens.approver);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ error: 'not_found', message: 'no approval request "no-such-request"; list the requests you may see with GET /api/approvals' });
    expect(unknown.headers.get('cache-control')).toBe('no-store');
    const decide = await call('POST', '/api/approvals/no-such-request/approve', tokens.approver, {});
    expect(decide.status).toBe(404);
    expect(decide.json['message']).toMatch(/there is no approval request "no-such-request"/);
    const getDecision = await call('GET', '/api/approvals/x/approve', tokens.approver);
    expect(getDecision.status).toBe(405);
    expect(getDecision.headers.get('allow')).toBe('POST');
    const postList = await call('POST', '/api/approvals', tokens.approver, {});
    expect(postList.status).toBe(405);
    expect(postList.headers.get('allow')).toBe('GET, HEAD');
    expect((await call('GET', '/api/approvals?status=open', tokens.approver)).json['message']).toBe(`status="open": expected ${APPROVAL_STATUSES.join(', ')}`);
  });

  it('decision bodies: 415 without JSON, 400 for invalid JSON, 413 over 16 KiB (connection closed)', async () => {
    const request = held();
    const form = await call('POST', `/api/approvals/${request.id}/approve`, tokens.approver, 'comment=ok', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(form.json['error']).toBe('unsupported_media_type');
    const broken = await call('POST', `/api/approvals/${request.id}/approve`, tokens.approver, '{"comment": ', { 'content-type': 'application/json' });
    expect(broken.status).toBe(400);
    expect(broken.json['message']).toMatch(/^the request body is not valid JSON/);
    const big = await new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
      const payload = JSON.stringify({ comment: 'x'.repeat(17 * 1024) });
      const req = http.request(
        `${base}/api/approvals/${request.id}/approve`,
        { method: 'POST', headers: { authorization: `Bearer ${tokens.approver}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    expect(big.status).toBe(413);
    expect(big.connection).toBe('close');
    expect(JSON.parse(big.body)).toMatchObject({ error: 'body_too_large' });
    // An empty body is an approval without a comment.
    const bare = await call('POST', `/api/approvals/${request.id}/approve`, tokens.approver);
    expect(bare.status).toBe(200);
    expect(bare.json).toMatchObject({ status: 'approved', decisions: [{ subject: APPROVER.clientId, comment: '' }] });
  });

  it('answers 404 "approvals are not enabled" on a gateway without the service (after the token check)', async () => {
    const { base: other } = await startAdmin(undefined);
    expect((await call('GET', '/api/approvals', undefined, undefined, {}, other)).status).toBe(401);
    const reply = await call('GET', '/api/approvals', tokens.approver, undefined, {}, other);
    expect(reply.status).toBe(404);
    expect(reply.json['message']).toMatch(/^approvals are not enabled on this gateway/);
    expect((await call('POST', '/api/approvals/x/approve', tokens.approver, {}, {}, other)).status).toBe(404);
  });
});

describe('who may see and decide', () => {
  it('the agent reads its own request, approvers and auditors read it, an outsider gets 403', async () => {
    const request = held();
    expect((await call('GET', `/api/approvals/${request.id}`, tokens.agent)).json).toMatchObject({ id: request.id, subject: agentIdentity.subject, status: 'pending' });
    expect((await call('GET', `/api/approvals/${request.id}`, tokens.approver)).status).toBe(200);
    expect((await call('GET', `/api/approvals/${request.id}`, tokens.auditor)).status).toBe(200);
    const outsider = await call('GET', `/api/approvals/${request.id}`, tokens.outsider);
    expect(outsider.status).toBe(403);
    expect(outsider.json['message']).toMatch(/^identity "outsider" may not see approval request/);
    expect((await call('GET', `/api/approvals/${request.id}/wait?timeout=1ms`, tokens.outsider)).status).toBe(403);
  });

  it('lists by caller: approvers their groups\' requests, the outsider none, auditors all', async () => {
    const mine = held();
    const dbas = held({ approvers: ['dba'] });
    const ids = async (token: string): Promise<string[]> =>
      ((await call('GET', '/api/approvals?status=pending', token)).json['approvals'] as { id: string }[]).map((a) => a.id);
    expect(await ids(tokens.approver)).toContain(mine.id);
    expect(await ids(tokens.approver)).not.toContain(dbas.id);
    expect(await ids(tokens.outsider)).toEqual([]);
    expect(await ids(tokens.auditor)).toEqual(expect.arrayContaining([mine.id, dbas.id]));
    expect(await ids(tokens.agent)).toEqual(expect.arrayContaining([mine.id, dbas.id]));
  });

  it('refuses self-approval (the agent\'s token) and an outsider with 403, leaving the request pending', async () => {
    const request = held();
    const self = await call('POST', `/api/approvals/${request.id}/approve`, tokens.agent, { comment: 'trust me' });
    expect(self.status).toBe(403);
    expect(self.json).toMatchObject({ error: 'forbidden', message: expect.stringContaining('nobody decides their own request') });
    const outsider = await call('POST', `/api/approvals/${request.id}/approve`, tokens.outsider, {});
    expect(outsider.status).toBe(403);
    expect(outsider.json['message']).toMatch(/^outsider may not decide approval request .*needs a member of group approvers/);
    expect(service.get(request.id)?.status).toBe('pending');
  });

  it('deny: 400 without a comment, then denied with one; a later approval is 409', async () => {
    const request = held();
    const bare = await call('POST', `/api/approvals/${request.id}/deny`, tokens.approver, {});
    expect(bare.status).toBe(400);
    expect(bare.json['message']).toMatch(/^denying needs a comment/);
    const denied = await call('POST', `/api/approvals/${request.id}/deny`, tokens.approver, { comment: 'not during the freeze' });
    expect(denied.status).toBe(200);
    expect(denied.json).toMatchObject({ status: 'denied', decisions: [{ subject: APPROVER.clientId, decision: 'deny', comment: 'not during the freeze' }] });
    expect(service.get(request.id)?.status).toBe('denied');
    expect((await call('POST', `/api/approvals/${request.id}/approve`, tokens.approver2, {})).status).toBe(409);
  });

  it('two approvals needed: the first leaves it pending, the second (another approver) approves', async () => {
    const request = held({ minApprovals: 2 });
    expect((await call('POST', `/api/approvals/${request.id}/approve`, tokens.approver, {})).json).toMatchObject({ status: 'pending', approvals: 1 });
    expect((await call('POST', `/api/approvals/${request.id}/approve`, tokens.approver, {})).status).toBe(403);
    expect((await call('POST', `/api/approvals/${request.id}/approve`, tokens.approver2, { comment: 'second' })).json).toMatchObject({ status: 'approved', approvals: 2 });
  });
});

describe('revoking a grant', () => {
  const WINDOW = { kind: 'window', durationMs: 30 * 60_000 } as const;
  /** The agent's binding for another statement under the request's rule (what a window grant releases). */
  const another = (request: ApprovalRequest) => ({ ...request, operationHash: 'f'.repeat(64) });

  it('POST /revoke: approvers and admins may, anyone else 403; a comment is required; pending is 409; the grant stops releasing', async () => {
    const pending = held({ grant: WINDOW });
    const early = await call('POST', `/api/approvals/${pending.id}/revoke`, tokens.approver, { comment: 'no' });
    expect(early.status).toBe(409);
    expect(early.json).toMatchObject({ error: 'conflict', message: expect.stringContaining('is pending, not approved: there is no grant to revoke; deny it instead') });

    await call('POST', `/api/approvals/${pending.id}/approve`, tokens.approver, {});
    expect(service.redeem(another(pending))?.id).toBe(pending.id);
    for (const token of [tokens.agent, tokens.outsider, tokens.auditor]) {
      const refused = await call('POST', `/api/approvals/${pending.id}/revoke`, token, { comment: 'stop' });
      expect(refused.status).toBe(403);
      expect(refused.json['message']).toMatch(/may not revoke the grant of approval request .*only members of group approvers .* and gateway admins may/);
    }
    const bare = await call('POST', `/api/approvals/${pending.id}/revoke`, tokens.approver2, {});
    expect(bare.status).toBe(400);
    expect(bare.json['message']).toMatch(/^revoking needs a comment/);

    const revoked = await call('POST', `/api/approvals/${pending.id}/revoke`, tokens.approver2, { comment: 'migration finished' });
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({
      status: 'revoked',
      grant: WINDOW,
      uses: 1,
      revocation: { subject: APPROVER_2.clientId, comment: 'migration finished', asAdmin: false },
    });
    expect(service.redeem(another(pending))).toBeUndefined();
    expect((await call('GET', `/api/approvals/${pending.id}`, tokens.agent)).json['status']).toBe('revoked');
    const listed = await call('GET', '/api/approvals?status=revoked', tokens.approver);
    expect((listed.json['approvals'] as { id: string }[]).map((a) => a.id)).toContain(pending.id);
    expect((await call('POST', `/api/approvals/${pending.id}/revoke`, tokens.approver, { comment: 'again' })).status).toBe(409);
  });

  it('an admin outside the approvers groups revokes, recorded as an admin', async () => {
    // A statement of its own: other tests leave approved grants for the default one.
    const request = held({ text: 'UPDATE orders SET status = $1 WHERE id = 42' });
    await call('POST', `/api/approvals/${request.id}/approve`, tokens.approver, {});
    const revoked = await call('POST', `/api/approvals/${request.id}/revoke`, tokens.admin, { comment: 'incident 42' });
    expect(revoked.status).toBe(200);
    expect(revoked.json['revocation']).toMatchObject({ subject: ADMIN.clientId, asAdmin: true, comment: 'incident 42' });
    expect(service.redeem(request)).toBeUndefined();
  });

  it('portcullis approvals revoke: exit 0 with the revoked request, 1 for the server\'s refusal, 2 without --comment', async () => {
    const request = held({ grant: WINDOW });
    await asApprover('approvals', 'approve', request.id);
    const noComment = await asApprover('approvals', 'revoke', request.id);
    expect(noComment.code).toBe(2);
    expect(noComment.stderr).toContain('give --comment TEXT');
    const outsider = await cli('approvals', 'revoke', request.id, '--comment', 'x', '--url', base, '--token', tokens.outsider);
    expect(outsider.code).toBe(1);
    expect(outsider.stderr).toMatch(/^portcullis approvals revoke: outsider may not revoke the grant .*\(HTTP 403\)\n$/);
    const revoked = await asApprover('approvals', 'revoke', request.id, '--comment', 'done for today');
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`Approval request ${request.id}: REVOKED`);
    expect(revoked.stdout).toMatch(/revoked {5}\S+ \S+ {2}by approver \(client approver\): "done for today"/);
    expect(service.redeem(another(request))).toBeUndefined();
    const again = await asApprover('approvals', 'revoke', request.id, '--comment', 'again', '--json');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('there is nothing left to revoke (HTTP 409)');
  });
});

describe('the long poll', () => {
  it('returns to the waiting agent when an approver approves from another request', async () => {
    const request = held();
    const waiting = call('GET', `/api/approvals/${request.id}/wait?timeout=30s`, tokens.agent);
    await pollUntil(async () => waits.started - waits.ended, (active) => active > 0, { what: 'the agent to be waiting' });
    const approved = await call('POST', `/api/approvals/${request.id}/approve`, tokens.approver, { comment: 'go ahead' });
    expect(approved.status).toBe(200);
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ id: request.id, status: 'approved', decisions: [{ comment: 'go ahead' }] });
  });

  it('answers 200 with the request still pending when its timeout runs out; refuses a timeout over 5 min', async () => {
    const request = held();
    const answer = await call('GET', `/api/approvals/${request.id}/wait?timeout=100ms`, tokens.agent);
    expect(answer.status).toBe(200);
    expect(answer.json['status']).toBe('pending');
    const long = await call('GET', `/api/approvals/${request.id}/wait?timeout=10m`, tokens.agent);
    expect(long.status).toBe(400);
    expect(long.json['message']).toMatch(/^timeout="10m": expected a duration from 1ms to 5m/);
  });

  it('stops waiting when the client disconnects', async () => {
    const request = held();
    const before = waits.ended;
    const stop = new AbortController();
    const waiting = fetch(`${base}/api/approvals/${request.id}/wait?timeout=5m`, { headers: { authorization: `Bearer ${tokens.agent}` }, signal: stop.signal });
    await pollUntil(async () => waits.started - waits.ended, (active) => active > 0, { what: 'the agent to be waiting' });
    stop.abort();
    await expect(waiting).rejects.toThrow();
    await pollUntil(async () => waits.ended, (ended) => ended > before, { what: 'the server to stop waiting' });
    expect(service.get(request.id)?.status).toBe('pending');
  });

  it('answers waiting clients (still pending) when the server shuts down', async () => {
    const { server, base: other } = await startAdmin(observed(service));
    const request = held();
    const waiting = call('GET', `/api/approvals/${request.id}/wait?timeout=5m`, tokens.agent, undefined, {}, other);
    await pollUntil(async () => waits.started - waits.ended, (active) => active > 0, { what: 'the agent to be waiting' });
    await server.close();
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect(answer.json['status']).toBe('pending');
  });
});

describe('portcullis approvals (CLI) against the server', () => {
  it('list, show (escaped) and show --json', async () => {
    const request = held({ text: "UPDATE orders SET note = 'a\u001b[31mred' WHERE id = 1\nRETURNING id", parameters: [null, 'x'] });
    const list = await asApprover('approvals', 'list', '--status', 'pending');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID +STATUS +CREATED \(UTC\) +SUBJECT +CONNECTION +RULE +STATEMENT\n/);
    expect(list.stdout).toContain(request.id);
    expect(list.stdout).not.toContain('\u001b');
    const shown = await asApprover('approvals', 'show', request.id);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`Approval request ${request.id}: PENDING, 0 of 1 approval`);
    expect(shown.stdout).toContain(`asked by    ${agentIdentity.subject}`);
    expect(shown.stdout).toContain("statement   UPDATE orders SET note = 'a\\x1b[31mred' WHERE id = 1\n              RETURNING id");
    expect(shown.stdout).toContain('parameters  $1=NULL, $2="x"');
    expect(shown.stdout).not.toContain('\u001b');
    const json = await asApprover('approvals', 'show', request.id, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ id: request.id, status: 'pending', parameters: [null, 'x'] });
    const listJson = await asApprover('approvals', 'list', '--json');
    expect((JSON.parse(listJson.stdout) as { id: string }[]).map((a) => a.id)).toContain(request.id);
  });

  it('approve and deny, with the server\'s refusals as exit 1 and a missing deny comment as exit 2', async () => {
    const first = held();
    const approved = await asApprover('approvals', 'approve', first.id, '--comment', 'ticket OPS-1');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`Approval request ${first.id}: APPROVED`);
    expect(approved.stdout).toMatch(/APPROVE by approver \(client approver\): "ticket OPS-1"/);
    const second = held();
    const noComment = await asApprover('approvals', 'deny', second.id);
    expect(noComment.code).toBe(2);
    expect(noComment.stderr).toContain('give --comment TEXT');
    const self = await cli('approvals', 'approve', second.id, '--url', base, '--token', tokens.agent);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/^portcullis approvals approve: approval request .* nobody decides their own request.*\(HTTP 403\)\n$/);
    const denied = await asApprover('approvals', 'deny', second.id, '--comment', 'no');
    expect(denied.code).toBe(0);
    expect(denied.stdout).toContain('DENIED');
    const again = await asApprover('approvals', 'approve', second.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('(HTTP 409)');
    const unknown = await asApprover('approvals', 'show', 'no-such-request');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('portcullis approvals show: no approval request "no-such-request"; list the requests you may see with GET /api/approvals (HTTP 404)\n');
  });

  it('wait: exit 0 once approved from elsewhere, 3 while still pending at the timeout, 1 when denied', async () => {
    const request = held();
    const waiting = cli('approvals', 'wait', request.id, '--timeout', '30s', '--url', base, '--token', tokens.agent);
    await pollUntil(async () => waits.started - waits.ended, (active) => active > 0, { what: 'the CLI to be waiting' });
    expect((await asApprover('approvals', 'approve', request.id)).code).toBe(0);
    const done = await waiting;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('APPROVED');
    expect(done.stderr).toMatch(/^waiting up to 30s for approval request /);

    const pending = held();
    const timedOut = await cli('approvals', 'wait', pending.id, '--timeout', '100ms', '--url', base, '--token', tokens.agent);
    expect(timedOut.code).toBe(3);
    expect(timedOut.stderr).toContain(`still pending after 100ms; wait again with "portcullis approvals wait ${pending.id}"`);

    await asApprover('approvals', 'deny', pending.id, '--comment', 'no');
    const denied = await cli('approvals', 'wait', pending.id, '--json', '--url', base, '--token', tokens.agent);
    expect(denied.code).toBe(1);
    expect(JSON.parse(denied.stdout)).toMatchObject({ status: 'denied', decisions: [{ comment: 'no' }] });
  });

  it('exit 1 with a hint when the admin API cannot be reached or refuses the token', async () => {
    const port = await freePort();
    const down = await cli('approvals', 'list', '--url', `http://127.0.0.1:${port}`, '--token', tokens.approver);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach the admin API at http://127.0.0.1:${port}`);
    const badToken = await cli('approvals', 'list', '--url', base, '--token', 'not-a-token');
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/^portcullis approvals list: invalid access token: .*\(HTTP 401\)\n$/);
  });
});
