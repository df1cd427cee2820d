/**
 * The admin HTTP listener (node:http, or node:https with `admin.tls`): routes a request,
 * authenticates it when the route needs it, and answers from a read-only snapshot of the
 * recordings or, for approvals, from the ApprovalService (Slack's button clicks: from the
 * handler notifications give it, which checks Slack's signature instead of a token). Bounded:
 * small headers, small JSON bodies on the approval decisions only (form bodies of at most
 * 256 KiB from Slack), a deadline for receiving each request, and long polls of at most
 * five minutes. Logs method, route, status and the caller's subject —
 * never a header value.
 *
 * Recording queries and audit verification run synchronously on the gateway's event loop
 * (better-sqlite3 is synchronous): a listing scans the events table, and verifying a large
 * store stalls the front doors for as long as it reads (about a second per 100 000 events).
 */
import type { KeyObject } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AdminConfig, ConnectionConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { CONTENT_TYPE as PROMETHEUS_TYPE } from '../metrics/prometheus-text.js';
import type { ApprovalService } from '../approvals/types.js';
import type { SlackInteractionHandler } from '../notify/slack-interactions.js';
import { RecorderError } from '../recording/recorder.js';
import { SqliteStore } from '../recording/sqlite-store.js';
import { accessRequestResponse } from './access.js';
import { sessionEventsResponse, sessionResponse, sessionsResponse, verifyResponse, type ApiResponse } from './api.js';
import {
  approvalResponse,
  approvalsDisabledResponse,
  approvalsResponse,
  approvalWaitResponse,
  decisionResponse,
  revokeResponse,
  type Caller,
} from './approvals.js';
import { authenticate, type AdminTokenVerifier } from './auth.js';
import { errorBody, parseJsonBody, rawErrorResponse, readBody, send, sendJson } from './http.js';
import { parseApprovalsQuery, parseEventsQuery, parseSessionsQuery, parseVerifyQuery, parseWaitQuery, type Parsed } from './query.js';
import { evaluateReadiness, type ReadinessCheck } from './readiness.js';
import { checkQuery, isApprovalRoute, matchRoute, type ApprovalRouteName, type RouteName } from './routes.js';

/** What the admin listener needs from the metrics implementation. */
export interface AdminMetrics {
  render(): string;
  adminRequest(route: string, status: number): void;
}

export interface AdminServerOptions {
  readonly config: AdminConfig;
  /** The gateway's verifier: same issuers (and cache) as the data path. */
  readonly verifier: AdminTokenVerifier;
  /** Where the recordings are; opened read-only per request. */
  readonly dataDir: string;
  /** The checkpoint-signing public key, loaded once at start (replacing the file later does not change it). */
  readonly publicKey: KeyObject;
  readonly metrics: AdminMetrics;
  readonly readiness: readonly ReadinessCheck[];
  readonly logger: Logger;
  /**
   * Serves /api/approvals (list, show, approve, deny, revoke, wait) and /api/access-requests when given; without it those
   * routes answer 404 "approvals are not enabled".
   */
  readonly approvals?: ApprovalService;
  /**
   * The gateway's connections, for POST /api/access-requests (which connection, its access
   * list and its `access.require_approval`); without them every connection is unknown there.
   */
  readonly connections?: readonly ConnectionConfig[];
  /** Answers POST /api/slack/interactions (Slack's button clicks) when given; without it that route answers 404. */
  readonly slack?: SlackInteractionHandler;
}

/** GET requests carry no body; a little is tolerated (some clients send an empty JSON object). */
export const MAX_BODY_BYTES = 1024;
/** A decision's JSON body: a comment, bounded. */
export const MAX_JSON_BODY_BYTES = 16 * 1024;
/** A Slack interaction carries the whole message clicked (blocks, statement text), form-encoded. */
export const MAX_SLACK_BODY_BYTES = 256 * 1024;
export const MAX_HEADER_BYTES = 16 * 1024;
/** Time allowed to receive a whole request (not to answer it: verification may take longer). */
export const REQUEST_TIMEOUT_MS = 15_000;
const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** At shutdown, requests still being answered get this long before their connections are cut. */
const CLOSE_GRACE_MS = 2_000;

export class AdminServer {
  private readonly server: http.Server;
  /** Aborted at close: long polls answer with the request as it is, so shutdown need not wait for them. */
  private readonly closing = new AbortController();

  constructor(private readonly options: AdminServerOptions) {
    const limits: http.ServerOptions = {
      maxHeaderSize: MAX_HEADER_BYTES,
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: HEADERS_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    };
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const { tls } = options.config;
    this.server =
      tls === undefined
        ? http.createServer(limits, handler)
        : https.createServer({ ...limits, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handler);
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket));
  }

  /** Resolves with the bound address (port 0 picks a free port). */
  listen(): Promise<AddressInfo> {
    const { host, port, tls } = this.options.config;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        // Failing to listen is the caller's to report; later errors are only ours to log.
        this.server.on('error', (error) => this.options.logger.error('admin listener error', { error }));
        const address = this.server.address() as AddressInfo;
        this.options.logger.info('admin API listening', { host: address.address, port: address.port, tls: tls !== undefined });
        resolve(address);
      });
    });
  }

  /** Stops accepting, lets answers in progress finish (briefly), closes every connection. */
  async close(): Promise<void> {
    if (!this.server.listening) return;
    this.closing.abort();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(timer);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const state: { route: string; subject: string | undefined } = { route: 'unmatched', subject: undefined };
    res.on('finish', () => {
      this.options.metrics.adminRequest(state.route, res.statusCode);
      this.options.logger.debug('admin request', {
        method: req.method,
        route: state.route,
        status: res.statusCode,
        ...(state.subject === undefined ? {} : { subject: state.subject }),
        ms: Math.round(performance.now() - started),
      });
    });
    try {
      await this.respond(req, res, state);
    } catch (error) {
      this.options.logger.error('admin request failed', { route: state.route, error });
      if (!res.headersSent) sendJson(res, 500, errorBody('internal_error', 'the admin API could not answer this request; the gateway log has the details'));
      else res.destroy();
    }
  }

  private async respond(req: IncomingMessage, res: ServerResponse, state: { route: string; subject: string | undefined }): Promise<void> {
    const method = req.method ?? 'GET';
    const target = req.url ?? '';
    // Origin-form only: an absolute URL or "*" is not something this API serves.
    if (!target.startsWith('/')) {
      return sendJson(res, 400, errorBody('bad_request', 'the request target must be a path such as /api/sessions'));
    }
    const queryAt = target.indexOf('?');
    const pathname = queryAt < 0 ? target : target.slice(0, queryAt);
    const search = new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1));
    const match = matchRoute(method, pathname);
    if (match.kind === 'matched') state.route = match.route.name;
    const takesBody = match.kind === 'matched' && match.route.method === 'POST';
    const fromSlack = match.kind === 'matched' && match.route.name === 'slack-interactions';
    const body = await readBody(req, fromSlack ? MAX_SLACK_BODY_BYTES : takesBody ? MAX_JSON_BODY_BYTES : MAX_BODY_BYTES);
    if (body === undefined) {
      const message = fromSlack
        ? `the request body exceeds ${MAX_SLACK_BODY_BYTES / 1024} KiB, more than a Slack interaction with an approval message carries`
        : takesBody
          ? `the request body exceeds ${MAX_JSON_BODY_BYTES / 1024} KiB; send a JSON object with a shorter comment or reason`
          : `the admin API takes no request body here (at most ${MAX_BODY_BYTES} bytes are ignored); send the request without one`;
      return sendJson(res, 413, errorBody('body_too_large', message), { connection: 'close' });
    }
    switch (match.kind) {
      case 'bad-path':
        return sendJson(res, 400, errorBody('bad_request', match.message));
      case 'not-found':
        return sendJson(res, 404, errorBody('not_found', match.message));
      case 'method-not-allowed':
        return sendJson(res, 405, errorBody('method_not_allowed', match.message), { allow: match.allow });
      case 'matched':
        break;
    }
    const { route, params } = match;
    // Authenticated by Slack's signature over the raw body, not by a token; the body is form-encoded, not JSON.
    if (route.name === 'slack-interactions') return this.slackInteraction(req, body, res);
    // Authentication before anything else about the request: an anonymous caller only ever learns "401".
    let caller: Caller | undefined;
    if (route.access !== 'public' && route.access !== 'signed') {
      const outcome = await authenticate(req.headers.authorization, route.access, this.options.config, this.options.verifier);
      if (outcome.kind === 'refused') {
        this.options.logger.info('admin request refused', { route: route.name, status: outcome.status, reason: outcome.reason, client: req.socket.remoteAddress });
        return sendJson(res, outcome.status, errorBody(outcome.error, outcome.message), outcome.headers);
      }
      caller = { identity: outcome.identity, role: outcome.role };
      state.subject = outcome.identity.subject;
    }
    const query = checkQuery(route, search);
    if (!query.ok) return sendJson(res, 400, errorBody('bad_request', query.message));
    let json: unknown;
    if (takesBody) {
      const parsed = parseJsonBody(req.headers['content-type'], body);
      if (!parsed.ok) return sendJson(res, parsed.status, errorBody(parsed.error, parsed.message));
      json = parsed.value;
    }
    if (isApprovalRoute(route.name)) return this.approvals(route.name, params['id'] ?? '', query.values, json, res, caller);
    return this.dispatch(route.name, params, query.values, res, state.subject);
  }

  private slackInteraction(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const handler = this.options.slack;
    if (handler === undefined) {
      return sendJson(res, 404, errorBody('not_found', 'Slack interactions are not enabled on this gateway: configure notifications.slack (and point the Slack app\'s Interactivity Request URL here)'));
    }
    const answer = handler.handle(body, req.headers);
    if (answer.body === undefined) return send(res, answer.status, 'text/plain; charset=utf-8', '');
    sendJson(res, answer.status, answer.body);
  }

  /** The approvals routes: always behind a verified token (`caller`). */
  private async approvals(
    name: ApprovalRouteName,
    id: string,
    query: ReadonlyMap<string, readonly string[]>,
    body: unknown,
    res: ServerResponse,
    caller: Caller | undefined,
  ): Promise<void> {
    const service = this.options.approvals;
    if (service === undefined) return reply(res, approvalsDisabledResponse());
    if (caller === undefined) throw new Error(`route ${name} must require a token`);
    switch (name) {
      case 'approvals': {
        const parsed = parseApprovalsQuery(query);
        if (!parsed.ok) return sendJson(res, 400, errorBody('bad_request', parsed.message));
        return reply(res, approvalsResponse(service, caller, parsed.value));
      }
      case 'approval':
        return reply(res, approvalResponse(service, caller, id));
      case 'approval-approve':
      case 'approval-deny': {
        const decision = name === 'approval-approve' ? 'approve' : 'deny';
        const response = decisionResponse(service, caller, id, decision, body);
        this.options.logger.info('approval decision through the admin API', { id, subject: caller.identity.subject, decision, status: response.status });
        return reply(res, response);
      }
      case 'approval-revoke': {
        const response = revokeResponse(service, caller, id, body);
        this.options.logger.info('approval grant revoked through the admin API', { id, subject: caller.identity.subject, status: response.status });
        return reply(res, response);
      }
      case 'access-requests': {
        const response = accessRequestResponse(service, this.options.connections ?? [], caller, body);
        this.options.logger.info('access request through the admin API', { subject: caller.identity.subject, status: response.status });
        return reply(res, response);
      }
      case 'approval-wait': {
        const parsed = parseWaitQuery(query);
        if (!parsed.ok) return sendJson(res, 400, errorBody('bad_request', parsed.message));
        const gone = new AbortController();
        // 'close' before the response finished: the client went away, so stop waiting for it.
        const onClose = (): void => gone.abort();
        res.once('close', onClose);
        const signal = AbortSignal.any([gone.signal, this.closing.signal, AbortSignal.timeout(parsed.value.timeoutMs)]);
        try {
          const response = await approvalWaitResponse(service, caller, id, signal);
          // Answered because the server is closing: the connection need not stay open for another request.
          if (!res.destroyed) reply(res, response, this.closing.signal.aborted ? { connection: 'close' } : {});
        } finally {
          res.off('close', onClose);
        }
        return;
      }
    }
  }

  private async dispatch(
    name: Exclude<RouteName, ApprovalRouteName | 'slack-interactions'>,
    params: Readonly<Record<string, string>>,
    query: ReadonlyMap<string, readonly string[]>,
    res: ServerResponse,
    subject: string | undefined,
  ): Promise<void> {
    switch (name) {
      case 'healthz':
        return sendJson(res, 200, { status: 'ok' });
      case 'readyz': {
        const report = await evaluateReadiness(this.options.readiness);
        if (report.ready) return sendJson(res, 200, { status: 'ready', checks: report.checks });
        const reasons = Object.entries(report.checks).filter(([, value]) => value !== 'ok');
        return sendJson(res, 503, {
          ...errorBody('not_ready', `not ready: ${reasons.map(([name, reason]) => `${name}: ${reason}`).join('; ')}`),
          checks: report.checks,
        });
      }
      case 'metrics':
        return send(res, 200, PROMETHEUS_TYPE, this.options.metrics.render());
      case 'sessions':
        return this.answer(res, parseSessionsQuery(query), (store, q) => sessionsResponse(store, q));
      case 'session':
        return this.answer(res, ok(params['id'] ?? ''), (store, id) => sessionResponse(store, id));
      case 'session-events':
        return this.answer(res, parseEventsQuery(query), (store, q) => sessionEventsResponse(store, params['id'] ?? '', q));
      case 'audit-verify':
        return this.answer(res, parseVerifyQuery(query), (store, q) => {
          const response = verifyResponse(store, this.options.publicKey, q.anchors);
          const { ok: verified, problems } = response.body as { ok: boolean; problems: readonly unknown[] };
          this.options.logger.info('audit verified through the admin API', { subject, ok: verified, problems: problems.length });
          return response;
        });
    }
  }

  /** 400 for a bad query; else runs `fn` on a read-only snapshot of the recordings. */
  private answer<T>(res: ServerResponse, parsed: Parsed<T>, fn: (store: SqliteStore, value: T) => ApiResponse): void {
    if (!parsed.ok) return sendJson(res, 400, errorBody('bad_request', parsed.message));
    let response: ApiResponse;
    try {
      const store = SqliteStore.open(this.options.dataDir, { readonly: true });
      try {
        response = store.snapshot(() => fn(store, parsed.value));
      } finally {
        store.close();
      }
    } catch (error) {
      if (!(error instanceof RecorderError)) throw error;
      this.options.logger.error('admin API cannot read the recordings', { error });
      return sendJson(res, 503, errorBody('recording_unavailable', `cannot read the recordings: ${error.message}`));
    }
    reply(res, response);
  }
}

function reply(res: ServerResponse, response: ApiResponse, headers: Readonly<Record<string, string>> = {}): void {
  sendJson(res, response.status, response.body, headers);
}

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

/** Requests node:http cannot parse still get a JSON error (then the connection closes). */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', `the request headers exceed ${MAX_HEADER_BYTES} bytes`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', `the request was not received within ${REQUEST_TIMEOUT_MS / 1000} s`]
        : [400, 'Bad Request', 'the request is not valid HTTP/1.1'];
  socket.end(rawErrorResponse(status, reason, errorBody(status === 400 ? 'bad_request' : status === 408 ? 'request_timeout' : 'headers_too_large', message)));
}
