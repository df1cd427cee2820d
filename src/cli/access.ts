/**
 * `portcullis access request`: an agent, with its own OIDC token, asks for time-boxed access
 * to a connection with `access.require_approval` (POST /api/access-requests), and optionally
 * waits for the decision. Approvers then see it with `portcullis approvals list` and decide it
 * with `approvals approve|deny`, like a held operation.
 */
import type { ApprovalJson, DecisionJson } from '../admin/approvals.js';
import { MAX_WAIT_MS } from '../admin/query.js';
import { isApprovalStatus, type ApprovalStatus } from '../approvals/types.js';
import { DurationError, formatDuration, parseDuration } from '../config/duration.js';
import { visible, visibleLines } from '../recording/printable.js';
import { ADMIN_CLIENT_FLAGS, ADMIN_CLIENT_OPTIONS, callAdmin, resolveAdminTarget, TOKEN_ENV, URL_ENV, type AdminTarget } from './admin-client.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';
import { usageError } from './data-dir.js';
import { formatElapsed } from './sessions.js';

const COMMAND = 'access request';

const USAGE = `Usage: portcullis access request --connection NAME --duration TIME --reason TEXT
                                [--wait] [--json] [--url URL] [--token TOKEN]

Asks for time-boxed access to a connection that requires an approved access request
(access.require_approval in the gateway's config), with your own token: the identity
that will connect. You must be in the connection's access list. Approvers see the
request with "portcullis approvals list" and approve or deny it; once approved, you
may open the connection until the duration has passed since the approval (sessions
still open then are ended). The request itself expires if nobody decides it in time.

Options:
      --connection NAME  the connection (the database name you connect to)
      --duration TIME    how long you need it once approved: "30m", "2h", "1h30m"
                         (at most the connection's max_duration, default 8h)
      --reason TEXT      why: approvers decide on it, and it is audited
      --wait             wait until the request is decided (or expires)
      --json             print the request as JSON instead
${ADMIN_CLIENT_OPTIONS}
  -h, --help             show this help

Exit status: 0 requested (with --wait: approved); 1 refused (not in the access list,
no such connection, a duration above its max_duration), denied or expired (with
--wait), or the gateway could not be reached; 2 bad command line; 3 still pending
(with --wait: interrupted; wait again with "portcullis approvals wait ID").

Examples:
  export ${URL_ENV}=http://127.0.0.1:6480 ${TOKEN_ENV}="$AGENT_TOKEN"
  portcullis access request --connection prod --duration 30m \\
      --reason "INC-4711: fix the stuck orders" --wait && psql "…dbname=prod"
`;

/**
 * `--wait`'s exit status per outcome: scripts connect on 0. The same as "approvals wait"'s,
 * kept here so that module can print access requests with this one without an import cycle.
 */
export const ACCESS_WAIT_EXIT: Readonly<Record<ApprovalStatus, ExitCode>> = { approved: 0, denied: 1, expired: 1, revoked: 1, pending: 3 };

/** Each long poll asks the server for at most this long, so no proxy or client timeout cuts it. */
const POLL_SLICE_MS = 60_000;
/** After the request's own expiry, how long to keep asking: the server's timer marks it expired then. */
const EXPIRY_GRACE_MS = 5_000;

export const accessRequestCommand: CliCommand = {
  name: COMMAND,
  summary: 'Ask for time-boxed access to a connection that requires approval (for agents)',
  usage: USAGE,
  options: {
    ...ADMIN_CLIENT_FLAGS,
    connection: { type: 'string' },
    duration: { type: 'string' },
    reason: { type: 'string' },
    wait: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(args: CliArgs, io: CliIo, signal: AbortSignal): Promise<ExitCode> {
    const body = requestBody(args);
    if (typeof body === 'string') return usageError(io, COMMAND, body);
    const target = resolveAdminTarget(args, io, COMMAND);
    if (typeof target === 'number') return target;
    const created = await call(target, io, signal, { method: 'POST', path: '/api/access-requests', body });
    if (typeof created === 'number') return created;
    if (args.values['wait'] !== true) {
      print(args, io, created);
      io.err(
        `ask a member of ${created.approvers.map((g) => JSON.stringify(g)).join(' or ')} to approve it ` +
          `("portcullis approvals approve ${visible(created.id)}"), then connect; wait for it with "portcullis approvals wait ${visible(created.id)}"\n`,
      );
      return ExitCode.ok;
    }
    const decided = await waitForDecision(target, io, signal, created);
    if (typeof decided === 'number') return decided;
    print(args, io, decided);
    if (decided.status === 'pending') io.err(`access request ${visible(decided.id)} is still pending; wait again with "portcullis approvals wait ${visible(decided.id)}"\n`);
    return ACCESS_WAIT_EXIT[decided.status];
  },
};

/** The JSON body from the flags, or what is wrong with them. The duration is checked here too, so a typo is exit 2, not a round trip. */
function requestBody(args: CliArgs): { connection: string; duration: string; reason: string } | string {
  const [extra] = args.positionals;
  if (extra !== undefined) return `unexpected argument "${extra}"`;
  const connection = stringOf(args.values['connection']);
  const duration = stringOf(args.values['duration']);
  const reason = stringOf(args.values['reason'])?.trim();
  if (connection === undefined || connection === '') return 'give --connection NAME: the connection you need access to';
  if (duration === undefined) return 'give --duration TIME: how long you need access once approved, e.g. 30m';
  if (reason === undefined || reason === '') return 'give --reason TEXT: approvers decide on it';
  try {
    if (parseDuration(duration) > 0) return { connection, duration, reason };
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
  }
  return `--duration ${JSON.stringify(duration)}: expected a duration such as "30m", "2h" or "1h30m"`;
}

/**
 * Long-polls the request until it is decided, or until just past its own expiry (then the
 * server has expired it). Interrupted: the request as last seen (still pending).
 */
async function waitForDecision(target: AdminTarget, io: CliIo, signal: AbortSignal, request: ApprovalJson): Promise<ApprovalJson | ExitCode> {
  const deadline = Date.parse(request.expiresAt) + EXPIRY_GRACE_MS;
  io.err(`waiting for access request ${visible(request.id)} to be decided (it expires at ${formatTime(request.expiresAt)})…\n`);
  let last = request;
  while (last.status === 'pending' && Date.now() < deadline && !signal.aborted) {
    const slice = Math.min(POLL_SLICE_MS, MAX_WAIT_MS, Math.max(1, deadline - Date.now()));
    const path = `/api/approvals/${encodeURIComponent(request.id)}/wait?timeout=${slice}ms`;
    const answer = await call(target, io, signal, { method: 'GET', path, waitMs: slice });
    if (typeof answer === 'number') return signal.aborted ? last : answer;
    last = answer;
  }
  return last;
}

/** One admin API call whose answer must be an access request; an exit code (after printing why) otherwise. */
async function call(
  target: AdminTarget,
  io: CliIo,
  signal: AbortSignal,
  request: { method: 'GET' | 'POST'; path: string; body?: unknown; waitMs?: number },
): Promise<ApprovalJson | ExitCode> {
  const answer = await callAdmin(target, request, io, COMMAND, signal);
  if (!answer.ok) return answer.code;
  if (isAccessRequestJson(answer.body)) return answer.body;
  io.err(`portcullis ${COMMAND}: the admin API answered with something other than an access request; is --url (or ${URL_ENV}) the gateway's admin API?\n`);
  return ExitCode.failure;
}

function print(args: CliArgs, io: CliIo, request: ApprovalJson): void {
  io.out(args.values['json'] === true ? `${JSON.stringify(request, null, 2)}\n` : describeAccessRequest(request, Date.now()));
}

function isAccessRequestJson(value: unknown): value is ApprovalJson {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<keyof ApprovalJson, unknown>>;
  const grant = v.grant as { kind?: unknown; durationMs?: unknown } | null | undefined;
  return (
    v.kind === 'access' &&
    typeof v.id === 'string' &&
    typeof v.status === 'string' &&
    isApprovalStatus(v.status) &&
    typeof v.expiresAt === 'string' &&
    Array.isArray(v.approvers) &&
    Array.isArray(v.decisions) &&
    typeof grant === 'object' &&
    grant !== null &&
    grant.kind === 'window' &&
    typeof grant.durationMs === 'number'
  );
}

const LABEL_WIDTH = 14;

/** An access request, readable: what was asked, by whom, who may approve, and the outcome. */
export function describeAccessRequest(a: ApprovalJson, now: number): string {
  const approvals = `${a.approvals} of ${a.minApprovals} ${a.minApprovals === 1 ? 'approval' : 'approvals'}`;
  const lines = [`Access request ${visible(a.id)}: ${a.status.toUpperCase()}, ${approvals}`];
  const field = (label: string, values: readonly string[]): void => {
    values.forEach((value, i) => lines.push(`  ${(i === 0 ? label : '').padEnd(LABEL_WIDTH)}${value}`));
  };
  const about = [a.clientId === null ? '' : `client ${a.clientId}`, a.groups.length === 0 ? '' : `groups ${a.groups.join(', ')}`].filter((p) => p !== '');
  field('asked by', [visible(`${a.subject}${about.length === 0 ? '' : ` (${about.join(', ')})`}`)]);
  field('connection', [visible(a.connection)]);
  if (a.grant.kind === 'window') field('duration', [`${formatDuration(a.grant.durationMs)}, from the approval`]);
  field('reason', visibleLines(a.reason));
  const groups = a.approvers.map((g) => JSON.stringify(g)).join(' or ');
  field('approvers', [visible(`members of ${groups}; ${a.minApprovals} distinct ${a.minApprovals === 1 ? 'approval' : 'approvals'} needed, not by the requester`)]);
  field('created', [formatTime(a.createdAt)]);
  if (a.status === 'pending') field('expires', [`${formatTime(a.expiresAt)} (${relative(a.expiresAt, now)}) unless decided`]);
  if (a.status === 'expired') field('expired', [`${formatTime(a.expiresAt)}: nobody decided it in time; ask again`]);
  if (a.status === 'approved' && a.grantExpiresAt !== null) field('access until', [`${formatTime(a.grantExpiresAt)} (${relative(a.grantExpiresAt, now)})`]);
  field('decisions', a.decisions.length === 0 ? ['none yet'] : a.decisions.map(describeDecision));
  if (a.revocation !== null) {
    const r = a.revocation;
    field('revoked', [visible(`${formatTime(r.at)}  by ${r.subject}${r.asAdmin ? ' as admin' : ''}: ${JSON.stringify(r.comment)}`)]);
  }
  return `${lines.join('\n')}\n`;
}

function describeDecision(d: DecisionJson): string {
  const comment = d.comment === '' ? '' : `: ${JSON.stringify(d.comment)}`;
  return visible(`${formatTime(d.at)}  ${d.decision.toUpperCase()} by ${d.subject}${comment}`);
}

function relative(iso: string, now: number): string {
  const at = Date.parse(iso);
  return at >= now ? `in ${formatElapsed(at - now)}` : `${formatElapsed(now - at)} ago`;
}

/** `2025-01-01 09:30:05Z` from the API's ISO 8601 times. */
function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
