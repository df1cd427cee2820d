/**
 * `portcullis access request` without a gateway: the command line (exit 2), an unreachable
 * admin API (exit 1), and how an access request is printed (what agents sent is escaped).
 * Against a running gateway: test/integration/admin-access.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ApprovalJson } from '../../../src/admin/approvals.js';
import { ACCESS_WAIT_EXIT, describeAccessRequest } from '../../../src/cli/access.js';
import { WAIT_EXIT } from '../../../src/cli/approvals.js';
import { freePort } from '../../support/ports.js';
import { approvalJsonFixture, withoutAdminEnv } from './admin-fixture.js';
import { runCli } from './run-cli.js';

const NOW = Date.parse('2025-01-01T09:32:00Z');

/** agent-7 asks for 30 minutes on prod, 2 approvals of dba or sre needed; the request expires at 10:30. */
function accessRequest(overrides: Partial<ApprovalJson> = {}): ApprovalJson {
  return approvalJsonFixture({
    id: 'Ak7',
    kind: 'access',
    connection: 'prod',
    sessionId: null,
    rule: 'access-request',
    reason: 'INC-4711: fix stuck orders',
    text: 'access to connection "prod" for 30m: INC-4711: fix stuck orders',
    parameters: null,
    approvers: ['dba', 'sre'],
    minApprovals: 2,
    expiresAt: '2025-01-01T10:30:00.000Z',
    grant: { kind: 'window', durationMs: 30 * 60_000 },
    ...overrides,
  });
}

withoutAdminEnv();

describe('describeAccessRequest', () => {
  it('a pending request: who, where, how long, why, who may approve, when it expires', () => {
    expect(describeAccessRequest(accessRequest(), NOW)).toBe(
      [
        'Access request Ak7: PENDING, 0 of 2 approvals',
        '  asked by      agent-7 (client agent, groups agents)',
        '  connection    prod',
        '  duration      30m, from the approval',
        '  reason        INC-4711: fix stuck orders',
        '  approvers     members of "dba" or "sre"; 2 distinct approvals needed, not by the requester',
        '  created       2025-01-01 09:30:00Z',
        '  expires       2025-01-01 10:30:00Z (in 58m) unless decided',
        '  decisions     none yet',
        '',
      ].join('\n'),
    );
  });

  it('an approved request says until when access lasts, and every decision', () => {
    const text = describeAccessRequest(
      accessRequest({
        status: 'approved',
        approvals: 2,
        grantExpiresAt: '2025-01-01T10:01:00.000Z',
        decisions: [
          { subject: 'dana', clientId: 'dana-cli', decision: 'approve', comment: 'ok', at: '2025-01-01T09:31:00.000Z' },
          { subject: 'erin', clientId: null, decision: 'approve', comment: '', at: '2025-01-01T09:31:30.000Z' },
        ],
      }),
      NOW,
    );
    expect(text).toContain('Access request Ak7: APPROVED, 2 of 2 approvals\n');
    expect(text).toContain('  access until  2025-01-01 10:01:00Z (in 29m)\n');
    expect(text).toContain('  decisions     2025-01-01 09:31:00Z  APPROVE by dana: "ok"\n                2025-01-01 09:31:30Z  APPROVE by erin\n');
    expect(text).not.toContain('expires');
  });

  it('expired and revoked requests say so', () => {
    expect(describeAccessRequest(accessRequest({ status: 'expired' }), NOW)).toContain('  expired       2025-01-01 10:30:00Z: nobody decided it in time; ask again\n');
    const revoked = describeAccessRequest(
      accessRequest({
        status: 'revoked',
        grantExpiresAt: '2025-01-01T10:01:00.000Z',
        revocation: { subject: 'root', clientId: null, comment: 'done', at: '2025-01-01T09:40:00.000Z', asAdmin: true },
      }),
      NOW,
    );
    expect(revoked).toContain('  revoked       2025-01-01 09:40:00Z  by root as admin: "done"\n');
    expect(revoked).not.toContain('access until');
  });

  it('escapes control characters in what the agent sent', () => {
    const text = describeAccessRequest(accessRequest({ subject: 'agent\u001b[2J', reason: 'line one\nline \u001b[31mtwo' }), NOW);
    expect(text).not.toContain('\u001b');
    expect(text).toContain('  asked by      agent\\x1b[2J (client agent, groups agents)\n');
    expect(text).toContain('  reason        line one\n                line \\x1b[31mtwo\n');
  });
});

describe('the command line', () => {
  it.each([
    [['access', 'request', '--connection', 'prod', '--duration', '30m', '--reason', 'x', '--token', 't'], 'no admin API URL: give --url URL or set PORTCULLIS_URL'],
    [['access', 'request', '--connection', 'prod', '--duration', '30m', '--reason', 'x', '--url', 'http://127.0.0.1:1'], 'no access token: set PORTCULLIS_TOKEN'],
    [['access', 'request', '--connection', 'prod', '--duration', '30m', '--url', 'http://127.0.0.1:1', '--token', 't'], 'give --reason TEXT'],
    [['access', 'request', '--connection', 'prod', '--duration', 'soon', '--reason', 'x'], '--duration "soon": expected a duration such as "30m"'],
    [['access', 'request', '--connection', 'prod', '--duration', '30m', '--reason', 'x', '--wiat'], "Unknown option '--wiat'"],
  ])('%j exits 2: %s', async (args, message) => {
    const run = await runCli(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it('exits 1 naming the URL when the admin API cannot be reached', async () => {
    const port = await freePort();
    const run = await runCli('access', 'request', '--connection', 'prod', '--duration', '30m', '--reason', 'x', '--url', `http://127.0.0.1:${port}`, '--token', 't');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`portcullis access request: cannot reach the admin API at http://127.0.0.1:${port}`);
  });

  it('--wait exits as "approvals wait" does: 0 approved, 1 denied, expired or revoked, 3 pending', () => {
    expect(ACCESS_WAIT_EXIT).toEqual(WAIT_EXIT);
    expect(ACCESS_WAIT_EXIT).toEqual({ approved: 0, denied: 1, expired: 1, revoked: 1, pending: 3 });
  });

  it('--help explains the flags and exit codes', async () => {
    const run = await runCli('access', 'request', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: portcullis access request --connection NAME --duration TIME --reason TEXT/);
    expect(run.stdout).toContain('--wait');
    expect(run.stdout).toContain('3 still pending');
  });
});
