/**
 * `POST /api/access-requests`: an agent, with its own token, asks to open a connection with
 * `access.require_approval` for a while. Pure over the service interface and the connections
 * (the server authenticates and parses the JSON body).
 *
 * The connection's access list applies first, as on the data path: only an identity that may
 * open the connection at all may ask for time on it. The request is then an approval request
 * like any other (GET /api/approvals, approve, deny, revoke, wait).
 */
import { ApprovalError, type ApprovalService } from '../approvals/types.js';
import { DurationError, parseDuration } from '../config/duration.js';
import type { ConnectionConfig } from '../config/types.js';
import { isGrantedAccess } from '../policy/access.js';
import type { ApiResponse } from './api.js';
import { approvalJson, describeJson, ERROR_CODES, type Caller } from './approvals.js';
import { errorBody } from './http.js';
import type { Parsed } from './query.js';

/** The JSON body, parsed. */
export interface AccessRequestBody {
  readonly connection: string;
  readonly durationMs: number;
  readonly reason: string;
}

const FIELDS = ['connection', 'duration', 'reason'] as const;
const EXAMPLE = '{"connection": "prod", "duration": "30m", "reason": "…"}';

/** 201 with the pending request; 400 bad body, unknown connection or one without require_approval; 403 not in its access list. */
export function accessRequestResponse(service: ApprovalService, connections: readonly ConnectionConfig[], caller: Caller, body: unknown): ApiResponse {
  const parsed = parseAccessRequestBody(body);
  if (!parsed.ok) return badRequest(parsed.message);
  const { connection: name, durationMs, reason } = parsed.value;
  const { identity } = caller;
  const connection = connections.find((c) => c.name === name);
  if (connection === undefined) {
    const askable = connections.filter((c) => c.access.requireApproval !== undefined && isGrantedAccess(identity, c.access)).map((c) => JSON.stringify(c.name));
    const hint = askable.length === 0 ? 'there is no connection you may request access to' : `you may request access to ${askable.join(', ')}`;
    return badRequest(`there is no connection ${JSON.stringify(name)}: check the name; ${hint}`);
  }
  if (!isGrantedAccess(identity, connection.access)) {
    return {
      status: 403,
      body: errorBody(
        'forbidden',
        `identity ${JSON.stringify(identity.subject)} is not in the access list of connection ${JSON.stringify(name)}, so it may not request access to it: ` +
          'only identities that may open the connection can ask for time on it; ask your identity provider administrator for membership of one of its groups',
      ),
    };
  }
  const config = connection.access.requireApproval;
  if (config === undefined) {
    return badRequest(`connection ${JSON.stringify(name)} does not require an access request: open it directly with your token`);
  }
  try {
    const request = service.requestAccess({
      subject: identity.subject,
      clientId: identity.clientId,
      groups: identity.groups,
      connection: name,
      durationMs,
      reason,
      config,
    });
    return { status: 201, body: approvalJson(request) };
  } catch (error) {
    if (!(error instanceof ApprovalError)) throw error;
    return { status: error.status, body: errorBody(ERROR_CODES[error.status], error.message) };
  }
}

/**
 * `{"connection": "prod", "duration": "30m", "reason": "…"}`: all three required, nothing
 * else (a typo would otherwise be silently dropped). The duration is text in the config's
 * grammar ("30m", "1h30m"): a bare JSON number is refused, since seconds and milliseconds are
 * too easily confused. Limits (max_duration, reason length) are the service's.
 */
export function parseAccessRequestBody(body: unknown): Parsed<AccessRequestBody> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: `the request body must be a JSON object such as ${EXAMPLE}, not ${describeJson(body)}` };
  }
  const unknown = Object.keys(body).find((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown !== undefined) return { ok: false, message: `unknown field ${JSON.stringify(unknown)} in the request body; the fields are ${FIELDS.join(', ')}` };
  const fields = body as Partial<Record<(typeof FIELDS)[number], unknown>>;
  const missing = FIELDS.find((key) => fields[key] === undefined);
  if (missing !== undefined) return { ok: false, message: `the request body needs "${missing}": send ${EXAMPLE}` };
  const { connection, duration, reason } = fields;
  if (typeof connection !== 'string' || connection === '') return { ok: false, message: `"connection" must be a connection's name, not ${describeJson(connection)}` };
  if (typeof duration !== 'string') {
    return { ok: false, message: `"duration" must be a string such as "30m" or "2h", not ${describeJson(duration)}` };
  }
  let durationMs: number;
  try {
    durationMs = parseDuration(duration);
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
    return { ok: false, message: `"duration": ${error.message}` };
  }
  if (durationMs === 0) return { ok: false, message: `"duration" must be longer than 0, such as "30m"` };
  if (typeof reason !== 'string' || reason.trim() === '') {
    return { ok: false, message: `"reason" must say why you need access (approvers decide on it), not ${typeof reason === 'string' ? 'an empty string' : describeJson(reason)}` };
  }
  return { ok: true, value: { connection, durationMs, reason } };
}

function badRequest(message: string): ApiResponse {
  return { status: 400, body: errorBody('bad_request', message) };
}
