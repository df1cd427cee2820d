/**
 * `portcullis approvals list|show|approve|deny|revoke|wait`: the just-in-time approval
 * requests, through the gateway's admin API with the caller's own OIDC token. Approvers list,
 * read, decide and revoke grants; an agent waits on its own request. What is shown comes from
 * agents (statements, parameters, identities) and is printed with control characters escaped.
 */
import { APPROVAL_STATUSES, isApprovalStatus, type ApprovalStatus } from '../approvals/types.js';
import type { ApprovalAction, ApprovalJson, DecisionJson } from '../admin/approvals.js';
import { MAX_WAIT_MS } from '../admin/query.js';
import type { ReviewGrant } from '../config/types.js';
import { DurationError, formatDuration, parseDuration } from '../config/duration.js';
import type { RecordedParameter } from '../recording/recorder.js';
import { visible, visibleLines } from '../recording/printable.js';
import { ADMIN_CLIENT_FLAGS, ADMIN_CLIENT_OPTIONS, callAdmin, resolveAdminTarget, TOKEN_ENV, URL_ENV, type AdminRequest } from './admin-client.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';
import { usageError } from './data-dir.js';
import { formatElapsed } from './sessions.js';
import { describeAccessRequest } from './access.js';

const EXIT_STATUS = `Exit status: 0 done; 1 refused (not an approver, not yours to see, already decided
or revoked), no such request, or the gateway could not be reached (the server's
message is printed); 2 bad command line.`;

const SETUP_EXAMPLE = `  export ${URL_ENV}=http://127.0.0.1:6480
  export ${TOKEN_ENV}=$(portcullis token --issuer http://127.0.0.1:9000 --client-id approver)`;

/** The options every command printing one request shares. */
const REQUEST_OPTIONS = `      --json             print the request as JSON instead
${ADMIN_CLIENT_OPTIONS}
  -h, --help             show this help`;

const LIST_USAGE = `Usage: portcullis approvals list [--status pending|approved|denied|expired|revoked]
                                 [--json] [--url URL] [--token TOKEN]

Lists the approval requests you may see, newest first: one line each with its id,
status, creation time (UTC), who asked, the connection, the rule and the start of the
held statement. Approvers see the requests their groups may approve, agents the ones
they made, auditors and admins all of them.

Options:
      --status STATUS    only requests in this state: pending, approved, denied,
                         expired or revoked
      --json             print a JSON array of requests instead
${ADMIN_CLIENT_OPTIONS}
  -h, --help             show this help

${EXIT_STATUS}

Examples:
${SETUP_EXAMPLE}
  portcullis approvals list --status pending
  portcullis approvals list --json | jq -r '.[] | select(.rule == "orders-writes") | .id'
`;

const SHOW_USAGE = `Usage: portcullis approvals show ID [--json] [--url URL] [--token TOKEN]

Prints one approval request: its status and how many approvals it has, who asked
(subject, client id, groups), the connection and session, the rule and its reason,
the exact statement and parameters held, who may approve it, when it was made and
when it expires, every decision with its approver, time and comment, and its grant:
what it releases, until when, how often it was used, and who revoked it.

Options:
${REQUEST_OPTIONS}

${EXIT_STATUS}

Examples:
${SETUP_EXAMPLE}
  portcullis approvals show 7ZqK3vT0aB
`;

const APPROVE_USAGE = `Usage: portcullis approvals approve ID [--comment TEXT] [--json] [--url URL] [--token TOKEN]

Approves the held operation of an approval request with your own identity. You must
be in one of its rule's approvers groups and must not be the identity that asked;
when the rule needs several approvers, the request stays pending until enough
distinct ones approve. Read it first with "portcullis approvals show ID": only that
exact statement, by that identity, on that connection, is released.

Options:
      --comment TEXT     why (recorded with your decision, shown to the agent)
${REQUEST_OPTIONS}

${EXIT_STATUS}

Examples:
${SETUP_EXAMPLE}
  portcullis approvals approve 7ZqK3vT0aB --comment "ticket OPS-1234"
`;

const DENY_USAGE = `Usage: portcullis approvals deny ID --comment TEXT [--json] [--url URL] [--token TOKEN]

Denies the held operation of an approval request with your own identity: the agent
gets an error carrying your comment. One deny from an approver denies, whatever the
other approvers decided. You must be in one of its rule's approvers groups.

Options:
      --comment TEXT     why it is denied (required: the agent is told, and it is
                         recorded with your decision)
${REQUEST_OPTIONS}

${EXIT_STATUS}

Examples:
${SETUP_EXAMPLE}
  portcullis approvals deny 7ZqK3vT0aB --comment "not during the freeze; retry Monday"
`;

const REVOKE_USAGE = `Usage: portcullis approvals revoke ID --comment TEXT [--json] [--url URL] [--token TOKEN]

Withdraws the grant of an approved request with your own identity, so it releases
nothing more: a "once" grant not yet used (the agent's connection closed while it
waited, and it may still run the statement on a new one), or a time-window grant
("grant: 30m") before it ends. Its status becomes revoked. Members of the rule's
approvers groups and gateway admins may revoke. A pending request is denied instead
("portcullis approvals deny"); a used-up or expired grant has nothing left to revoke.

Options:
      --comment TEXT     why it is revoked (required: recorded with the revocation)
${REQUEST_OPTIONS}

${EXIT_STATUS}

Examples:
${SETUP_EXAMPLE}
  portcullis approvals revoke 7ZqK3vT0aB --comment "incident over; no more writes"
`;

const WAIT_USAGE = `Usage: portcullis approvals wait ID [--timeout TIME] [--json] [--url URL] [--token TOKEN]

Waits until an approval request is decided (approved, denied or expired), then prints
it as "approvals show" does. For agents, with their own token: an agent may wait on
the requests it made.

Options:
      --timeout TIME     how long to wait: a duration such as "30s", "5m" or "1h"
                         (default 30s)
${REQUEST_OPTIONS}

Exit status: 0 approved; 1 denied, expired or revoked, refused, no such request, or
the gateway could not be reached; 2 bad command line; 3 still pending when the timeout
ran out (wait again).

Examples:
  export ${URL_ENV}=http://127.0.0.1:6480 ${TOKEN_ENV}="$AGENT_TOKEN"
  portcullis approvals wait 7ZqK3vT0aB --timeout 10m && psql … -c "$THE_SAME_STATEMENT"
`;

/** `wait`'s exit status per outcome: scripts retry the held operation on 0. */
export const WAIT_EXIT: Readonly<Record<ApprovalStatus, ExitCode>> = { approved: 0, denied: 1, expired: 1, revoked: 1, pending: 3 };

/** Each long poll asks the server for at most this long, so no proxy or client timeout cuts it. */
const POLL_SLICE_MS = 60_000;
const DEFAULT_WAIT_MS = 30_000;

export const approvalsListCommand: CliCommand = {
  name: 'approvals list',
  summary: 'List approval requests you may see (pending, approved, denied, …)',
  usage: LIST_USAGE,
  options: { ...ADMIN_CLIENT_FLAGS, status: { type: 'string' }, json: { type: 'boolean' } },
  async run(args: CliArgs, io: CliIo, signal: AbortSignal): Promise<ExitCode> {
    const command = 'approvals list';
    if (args.positionals.length > 0) return usageError(io, command, `unexpected argument "${args.positionals[0]}"`);
    const status = stringOf(args.values['status']);
    if (status !== undefined && !isApprovalStatus(status)) {
      return usageError(io, command, `--status ${JSON.stringify(status)}: expected ${APPROVAL_STATUSES.join(', ')}`);
    }
    const path = `/api/approvals${status === undefined ? '' : `?status=${status}`}`;
    return request(args, io, command, signal, { method: 'GET', path }, (body) => {
      const approvals = (body as { approvals?: unknown }).approvals;
      if (!Array.isArray(approvals) || !approvals.every(isApprovalJson)) return undefined;
      if (args.values['json'] === true) io.out(`${JSON.stringify(approvals, null, 2)}\n`);
      else if (approvals.length === 0) io.err(status === undefined ? 'no approval requests you may see\n' : `no ${status} approval requests you may see\n`);
      else io.out(approvalTable(approvals));
      return ExitCode.ok;
    });
  },
};

export const approvalsShowCommand: CliCommand = {
  name: 'approvals show',
  summary: 'Print an approval request: who asked, the held statement, decisions',
  usage: SHOW_USAGE,
  options: { ...ADMIN_CLIENT_FLAGS, json: { type: 'boolean' } },
  async run(args: CliArgs, io: CliIo, signal: AbortSignal): Promise<ExitCode> {
    const command = 'approvals show';
    const id = oneId(args, io, command);
    if (typeof id !== 'string') return id;
    return request(args, io, command, signal, { method: 'GET', path: approvalPath(id) }, (body) => printApproval(args, io, body));
  },
};

export const approvalsApproveCommand = actionCommand('approve', 'Approve a held operation (as an approver)', APPROVE_USAGE);
export const approvalsDenyCommand = actionCommand('deny', 'Deny a held operation, with a comment for the agent', DENY_USAGE);
export const approvalsRevokeCommand = actionCommand('revoke', "Revoke an approved request's grant before it is used or ends", REVOKE_USAGE);

export const approvalsWaitCommand: CliCommand = {
  name: 'approvals wait',
  summary: 'Wait for an approval request to be decided (for agents)',
  usage: WAIT_USAGE,
  options: { ...ADMIN_CLIENT_FLAGS, timeout: { type: 'string' }, json: { type: 'boolean' } },
  async run(args: CliArgs, io: CliIo, signal: AbortSignal): Promise<ExitCode> {
    const command = 'approvals wait';
    const id = oneId(args, io, command);
    if (typeof id !== 'string') return id;
    const timeout = parseTimeout(stringOf(args.values['timeout']));
    if (typeof timeout === 'string') return usageError(io, command, timeout);
    const deadline = Date.now() + timeout;
    io.err(`waiting up to ${formatDuration(timeout)} for approval request ${visible(id)} to be decided…\n`);
    for (;;) {
      const slice = Math.min(POLL_SLICE_MS, MAX_WAIT_MS, Math.max(1, deadline - Date.now()));
      let last: ApprovalJson | undefined;
      const code = await request(args, io, command, signal, { method: 'GET', path: `${approvalPath(id)}/wait?timeout=${slice}ms`, waitMs: slice }, (body) => {
        if (!isApprovalJson(body)) return undefined;
        last = body;
        return ExitCode.ok;
      });
      if (last === undefined) return code;
      if (last.status !== 'pending' || Date.now() >= deadline || signal.aborted) {
        printApproval(args, io, last);
        if (last.status === 'pending') io.err(`still pending after ${formatDuration(timeout)}; wait again with "portcullis approvals wait ${visible(id)}"\n`);
        return WAIT_EXIT[last.status];
      }
    }
  },
};

/** `approvals approve|deny|revoke`: the same call to /approve, /deny or /revoke; deny and revoke need a comment. */
function actionCommand(action: ApprovalAction, summary: string, usage: string): CliCommand {
  const command = `approvals ${action}`;
  return {
    name: command,
    summary,
    usage,
    options: { ...ADMIN_CLIENT_FLAGS, comment: { type: 'string' }, json: { type: 'boolean' } },
    async run(args: CliArgs, io: CliIo, signal: AbortSignal): Promise<ExitCode> {
      const id = oneId(args, io, command);
      if (typeof id !== 'string') return id;
      const comment = stringOf(args.values['comment']);
      if (action !== 'approve' && (comment === undefined || comment.trim() === '')) {
        const why = action === 'deny' ? 'the agent is told why its operation was denied' : 'it is recorded with the revocation';
        return usageError(io, command, `give --comment TEXT: ${why}`);
      }
      const body = comment === undefined ? {} : { comment };
      return request(args, io, command, signal, { method: 'POST', path: `${approvalPath(id)}/${action}`, body }, (answer) => printApproval(args, io, answer));
    },
  };
}

/** Resolves --url/--token, makes the call, and hands a successful answer to `handle` (undefined: not the expected shape). */
async function request(
  args: CliArgs,
  io: CliIo,
  command: string,
  signal: AbortSignal,
  call: AdminRequest,
  handle: (body: unknown) => ExitCode | undefined,
): Promise<ExitCode> {
  const target = resolveAdminTarget(args, io, command);
  if (typeof target === 'number') return target;
  const answer = await callAdmin(target, call, io, command, signal);
  if (!answer.ok) return answer.code;
  const code = handle(answer.body);
  if (code !== undefined) return code;
  io.err(`portcullis ${command}: the admin API answered with something other than approval requests; is --url (or ${URL_ENV}) the gateway's admin API?\n`);
  return ExitCode.failure;
}

function printApproval(args: CliArgs, io: CliIo, body: unknown): ExitCode | undefined {
  if (!isApprovalJson(body)) return undefined;
  io.out(args.values['json'] === true ? `${JSON.stringify(body, null, 2)}\n` : describeApproval(body, Date.now()));
  return ExitCode.ok;
}

function oneId(args: CliArgs, io: CliIo, command: string): string | ExitCode {
  const [id, extra] = args.positionals;
  if (id === undefined || id === '') return usageError(io, command, 'give the id of the approval request (see "portcullis approvals list")');
  if (extra !== undefined) return usageError(io, command, `unexpected argument "${extra}": give one approval request id`);
  return id;
}

function approvalPath(id: string): string {
  return `/api/approvals/${encodeURIComponent(id)}`;
}

/** `--timeout`: a duration of at least 1 ms (default 30 s); a message when it is not one. */
export function parseTimeout(value: string | undefined): number | string {
  if (value === undefined) return DEFAULT_WAIT_MS;
  try {
    const ms = parseDuration(value);
    if (ms >= 1) return ms;
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
  }
  return `--timeout ${JSON.stringify(value)}: expected a duration such as "30s", "5m" or "1h"`;
}

function isApprovalJson(value: unknown): value is ApprovalJson {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof ApprovalJson, unknown>>;
  const grant = v.grant as { kind?: unknown } | null | undefined;
  return (
    typeof v.id === 'string' &&
    typeof v.status === 'string' &&
    isApprovalStatus(v.status) &&
    typeof v.text === 'string' &&
    Array.isArray(v.decisions) &&
    typeof grant === 'object' &&
    grant !== null &&
    (grant.kind === 'once' || grant.kind === 'window') &&
    typeof v.uses === 'number'
  );
}

const HEADERS = ['ID', 'STATUS', 'CREATED (UTC)', 'SUBJECT', 'CONNECTION', 'RULE', 'STATEMENT'] as const;
/** The statement column shows this much of the (single-lined) text. */
const STATEMENT_WIDTH = 60;

/** The list as a table, one request per line; the statement is cut with "…". */
export function approvalTable(approvals: readonly ApprovalJson[]): string {
  const rows = approvals.map((a) => [
    visible(a.id),
    a.status,
    formatTime(a.createdAt),
    visible(a.subject),
    visible(a.connection),
    visible(a.rule),
    cut(visible(a.text.replace(/\s+/g, ' ').trim()), STATEMENT_WIDTH),
  ]);
  const widths = HEADERS.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return `${[line(HEADERS), ...rows.map(line)].join('\n')}\n`;
}

const LABEL_WIDTH = 12;

/** One request, readable: every field an approver needs before deciding. */
export function describeApproval(a: ApprovalJson, now: number): string {
  if (a.kind === 'access') return describeAccessRequest(a, now);
  const lines = [`Approval request ${visible(a.id)}: ${a.status.toUpperCase()}, ${a.approvals} of ${a.minApprovals} ${a.minApprovals === 1 ? 'approval' : 'approvals'}`];
  const field = (label: string, values: readonly string[]): void => {
    values.forEach((value, i) => lines.push(`  ${(i === 0 ? label : '').padEnd(LABEL_WIDTH)}${value}`));
  };
  const client = a.clientId === null ? '' : `client ${a.clientId}`;
  const groups = a.groups.length === 0 ? '' : `groups ${a.groups.join(', ')}`;
  const about = [client, groups].filter((part) => part !== '').join(', ');
  field('asked by', [visible(`${a.subject}${about === '' ? '' : ` (${about})`}`)]);
  field('connection', [visible(`${a.connection} (session ${a.sessionId})`)]);
  field('rule', [visible(a.reason === '' ? a.rule : `${a.rule}: ${a.reason}`)]);
  field('statement', visibleLines(a.text));
  if (a.parameters !== null && a.parameters.length > 0) field('parameters', [visible(a.parameters.map(formatParameter).join(', '))]);
  const who = a.approvers.length === 0 ? 'no approvers group' : `members of ${a.approvers.map((g) => JSON.stringify(g)).join(' or ')}`;
  field('approvers', [visible(`${who}; ${a.minApprovals} distinct ${a.minApprovals === 1 ? 'approval' : 'approvals'} needed, not by the requester`)]);
  field('created', [formatTime(a.createdAt)]);
  field(a.status === 'pending' ? 'expires' : 'expiry', [`${formatTime(a.expiresAt)}${a.status === 'pending' ? ` (${relative(Date.parse(a.expiresAt), now)})` : ''}`]);
  field('grant', [visible(grantText(a.grant, a.rule, a.connection))]);
  if (a.grantExpiresAt !== null && a.revocation === null && !(a.grant.kind === 'once' && a.redeemedAt !== null)) {
    field('grant until', [`${formatTime(a.grantExpiresAt)} (${relative(Date.parse(a.grantExpiresAt), now)})`]);
  }
  if (a.redeemedAt !== null) field('ran', [a.uses > 1 ? `${a.uses} statements, the first at ${formatTime(a.redeemedAt)}` : formatTime(a.redeemedAt)]);
  field('decisions', a.decisions.length === 0 ? ['none yet'] : a.decisions.map(formatDecision));
  if (a.revocation !== null) field('revoked', [formatRevocation(a.revocation)]);
  return `${lines.join('\n')}\n`;
}

/** What the grant releases, in words. */
function grantText(grant: ReviewGrant, rule: string, connection: string): string {
  if (grant.kind === 'once') return `once: this exact statement, one time (on a new connection within ${formatDuration(grant.ttlMs)} of approval)`;
  return `${formatDuration(grant.durationMs)}: any statement under rule ${rule} by this identity on ${connection}, for ${formatDuration(grant.durationMs)} after approval`;
}

function formatRevocation(r: NonNullable<ApprovalJson['revocation']>): string {
  const by = `${r.subject}${r.clientId === null ? '' : ` (client ${r.clientId})`}${r.asAdmin ? ' as admin' : ''}`;
  return visible(`${formatTime(r.at)}  by ${by}: ${JSON.stringify(r.comment)}`);
}

function formatDecision(d: DecisionJson): string {
  const by = d.clientId === null ? d.subject : `${d.subject} (client ${d.clientId})`;
  const comment = d.comment === '' ? '' : `: ${JSON.stringify(d.comment)}`;
  return visible(`${formatTime(d.at)}  ${d.decision.toUpperCase()} by ${by}${comment}`);
}

function formatParameter(p: RecordedParameter, i: number): string {
  const value = p === null ? 'NULL' : typeof p === 'string' ? JSON.stringify(p) : `<binary, base64 ${p.base64}>`;
  return `$${i + 1}=${value}`;
}

function relative(at: number, now: number): string {
  return at >= now ? `in ${formatElapsed(at - now)}` : `${formatElapsed(now - at)} ago`;
}

/** `2025-01-01 09:30:05Z` from the API's ISO 8601 times. */
function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

function cut(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
