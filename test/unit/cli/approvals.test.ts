/**
 * `portcullis approvals …` without a gateway: the command line (exit 2), where the URL and
 * token come from, an unreachable admin API (exit 1), and the terminal output of a request
 * (control characters escaped). Against a running server: test/integration/admin-approvals.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { approvalTable, describeApproval, parseTimeout, WAIT_EXIT } from '../../../src/cli/approvals.js';
import { freePort } from '../../support/ports.js';
import { approvalJsonFixture, withoutAdminEnv } from './admin-fixture.js';
import { runCli } from './run-cli.js';

const NOW = Date.parse('2025-01-01T09:32:00Z');

const approval = approvalJsonFixture;

withoutAdminEnv();

describe('the command line', () => {
  it.each([
    [['approvals', 'list', '--token', 't'], 'no admin API URL: give --url URL or set PORTCULLIS_URL'],
    [['approvals', 'list', '--url', 'http://127.0.0.1:1'], 'no access token: set PORTCULLIS_TOKEN'],
    [['approvals', 'list', '--url', 'ftp://x', '--token', 't'], '--url "ftp://x": expected an http:// or https:// URL'],
    [['approvals', 'list', '--url', 'not a url', '--token', 't'], '--url "not a url" is not a URL'],
    [['approvals', 'list', '--url', 'http://x', '--token', 'Bearer t'], 'the access token contains whitespace'],
    [['approvals', 'list', '--status', 'open'], '--status "open": expected pending, approved, denied, expired, revoked'],
    [['approvals', 'list', 'extra'], 'unexpected argument "extra"'],
    [['approvals', 'show'], 'give the id of the approval request'],
    [['approvals', 'show', 'a', 'b'], 'unexpected argument "b": give one approval request id'],
    [['approvals', 'deny', 'a', '--comment', '  '], 'give --comment TEXT: the agent is told why'],
    [['approvals', 'revoke', 'a'], 'give --comment TEXT: it is recorded with the revocation'],
    [['approvals', 'revoke', 'a', '--comment', ' '], 'give --comment TEXT: it is recorded with the revocation'],
    [['approvals', 'revoke', '--comment', 'done'], 'give the id of the approval request'],
    [['approvals', 'wait', 'a', '--timeout', 'soon'], '--timeout "soon": expected a duration'],
    [['approvals', 'approve', 'a', '--bogus'], "Unknown option '--bogus'"],
  ])('%j exits 2: %s', async (args, message) => {
    const run = await runCli(...args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
  });

  it('takes the URL and token from PORTCULLIS_URL and PORTCULLIS_TOKEN; an unreachable API is exit 1 with a hint', async () => {
    const port = await freePort();
    process.env['PORTCULLIS_URL'] = `http://127.0.0.1:${port}`;
    process.env['PORTCULLIS_TOKEN'] = 'secret-token-value';
    const run = await runCli('approvals', 'show', 'Zx3kQ9');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^portcullis approvals show: cannot reach the admin API at http://127\\.0\\.0\\.1:${port}: .*is the gateway running with an admin: section`));
    expect(run.stderr).not.toContain('secret-token-value');
  });

  it('parseTimeout: a duration of at least 1 ms, 30 s by default', () => {
    expect(parseTimeout(undefined)).toBe(30_000);
    expect(parseTimeout('10m')).toBe(600_000);
    expect(parseTimeout('0')).toMatch(/^--timeout "0": expected a duration/);
  });

  it('wait exits 0 only when approved, 3 while pending', () => {
    expect(WAIT_EXIT).toEqual({ approved: 0, denied: 1, expired: 1, revoked: 1, pending: 3 });
  });

  it('revoke --help says who may revoke what, and that a pending request is denied instead', async () => {
    const run = await runCli('approvals', 'revoke', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: portcullis approvals revoke ID --comment TEXT/);
    expect(run.stdout).toContain('approvers groups and gateway admins may revoke');
    expect(run.stdout).toContain('A pending request is denied instead');
  });
});

describe('terminal output', () => {
  it('describes a pending request with everything an approver needs', () => {
    expect(describeApproval(approval(), NOW)).toBe(
      [
        'Approval request Zx3kQ9: PENDING, 0 of 1 approval',
        '  asked by    agent-7 (client agent, groups agents)',
        '  connection  demo (session session-1)',
        '  rule        orders-writes: Writes to orders need approval.',
        '  statement   UPDATE orders SET status = $1',
        '              WHERE id = 7',
        '  parameters  $1="paid", $2=NULL, $3=<binary, base64 AAE=>',
        '  approvers   members of "approvers"; 1 distinct approval needed, not by the requester',
        '  created     2025-01-01 09:30:00Z',
        '  expires     2025-01-01 09:35:00Z (in 3m)',
        '  grant       once: this exact statement, one time (on a new connection within 15m of approval)',
        '  decisions   none yet',
        '',
      ].join('\n'),
    );
  });

  it('shows decisions and the grant of an approved request', () => {
    const text = describeApproval(
      approval({
        status: 'approved',
        minApprovals: 2,
        approvals: 2,
        grantExpiresAt: '2025-01-01T09:47:00.000Z',
        decisions: [
          { subject: 'alice', clientId: null, decision: 'approve', comment: '', at: '2025-01-01T09:31:00.000Z' },
          { subject: 'bob', clientId: 'cli', decision: 'approve', comment: 'ticket "OPS-1"', at: '2025-01-01T09:31:30.000Z' },
        ],
      }),
      NOW,
    );
    expect(text).toContain('Approval request Zx3kQ9: APPROVED, 2 of 2 approvals\n');
    expect(text).toContain('  expiry      2025-01-01 09:35:00Z\n');
    expect(text).toContain('  grant until 2025-01-01 09:47:00Z (in 15m)\n');
    expect(text).toContain('  decisions   2025-01-01 09:31:00Z  APPROVE by alice\n              2025-01-01 09:31:30Z  APPROVE by bob (client cli): "ticket \\"OPS-1\\""\n');
  });

  it('shows a window grant, its uses and its revocation', () => {
    const active = describeApproval(
      approval({
        status: 'approved',
        approvals: 1,
        grant: { kind: 'window', durationMs: 30 * 60_000 },
        grantExpiresAt: '2025-01-01T10:01:00.000Z',
        redeemedAt: '2025-01-01T09:31:00.000Z',
        uses: 4,
      }),
      NOW,
    );
    expect(active).toContain('  grant       30m: any statement under rule orders-writes by this identity on demo, for 30m after approval\n');
    expect(active).toContain('  grant until 2025-01-01 10:01:00Z (in 29m)\n');
    expect(active).toContain('  ran         4 statements, the first at 2025-01-01 09:31:00Z\n');

    const revoked = describeApproval(
      approval({
        status: 'revoked',
        grantExpiresAt: '2025-01-01T09:46:00.000Z',
        revocation: { subject: 'root', clientId: 'ops', comment: 'wrong table', at: '2025-01-01T09:31:30.000Z', asAdmin: true },
      }),
      NOW,
    );
    expect(revoked).toContain('Approval request Zx3kQ9: REVOKED');
    expect(revoked).not.toContain('grant until');
    expect(revoked).toContain('  revoked     2025-01-01 09:31:30Z  by root (client ops) as admin: "wrong table"\n');
  });

  it('escapes control characters and bidirectional overrides from agents and approvers', () => {
    const hostile = approval({
      subject: 'agent\u001b]0;owned\u0007',
      text: "SELECT 'x\u202e' -- \u001b[2J",
      decisions: [{ subject: 'eve', clientId: null, decision: 'deny', comment: 'no\rway\u001b[1A', at: '2025-01-01T09:31:00.000Z' }],
      status: 'denied',
    });
    for (const text of [describeApproval(hostile, NOW), approvalTable([hostile])]) {
      expect(text).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/u);
    }
    expect(describeApproval(hostile, NOW)).toContain("statement   SELECT 'x\\u202e' -- \\x1b[2J");
    expect(describeApproval(hostile, NOW)).toContain('DENY by eve: "no\\rway\\u001b[1A"');
    expect(approvalTable([hostile])).toContain('agent\\x1b]0;owned\\x07');
  });

  it('lists requests as a table, the statement on one line, cut at 60 characters', () => {
    const long = approval({ id: 'Long01', text: `UPDATE orders\n   SET note = '${'y'.repeat(80)}'` });
    const table = approvalTable([approval(), long]);
    const lines = table.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID +STATUS +CREATED \(UTC\) +SUBJECT +CONNECTION +RULE +STATEMENT$/);
    expect(lines[1]).toMatch(/^Zx3kQ9 +pending +2025-01-01 09:30:00Z +agent-7 +demo +orders-writes +UPDATE orders SET status = \$1 WHERE id = 7$/);
    const statement = lines[2]!.slice(lines[0]!.indexOf('STATEMENT'));
    expect(statement).toHaveLength(60);
    expect(statement).toMatch(/^UPDATE orders SET note = 'y+…$/);
  });
});
