/**
 * One agent connection on the PostgreSQL front door: TLS negotiation, token
 * authentication, access decision, upstream connection with injected credentials, then
 * a frame-by-frame relay in which every statement passes through `decide()`.
 *
 * The client only ever receives whole frames, so the gateway can always add an
 * ErrorResponse (refusal, token expiry, shutdown) at a frame boundary.
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { PostgresConnectionConfig, PostgresListenerConfig } from '../../config/types.js';
import type { Identity } from '../../identity/identity.js';
import { TokenError } from '../../identity/errors.js';
import type { Logger } from '../../log.js';
import type { SqlInspection, StatementFacts } from '../../inspect/sql/facts.js';
import { withPreparedFacts } from '../../inspect/sql/inspect.js';
import { isParseRelevantChange, isUtf8EncodingName } from '../../inspect/sql/settings.js';
import type { ConnectionRef, Decision, Gate, Operation } from '../../policy/operation.js';
import type { CancelRegistry, Cancellable } from './cancel-registry.js';
import {
  Be,
  Fe,
  parseBind,
  parseClose,
  parseCommandComplete,
  parseDataRow,
  parseErrorFields,
  parseExecutePortal,
  parseParameterStatus,
  parseParse,
  parseQuery,
  parseRowDescriptionNames,
  parseStartupPacket,
  serializeDescribe,
  serializeAuthenticationCleartext,
  serializeAuthenticationOk,
  serializeBackendKeyData,
  serializeBind,
  serializeCancelRequest,
  serializeErrorResponse,
  serializeNegotiateProtocolVersion,
  serializeNoticeResponse,
  serializeParameterStatus,
  serializeParse,
  serializeQuery,
  serializeReadyForQuery,
  serializeTerminate,
  type ErrorFields,
  type StartupPacket,
} from './codec.js';
import type { EndedBy, RecordedParameter, Recorder } from '../../recording/recorder.js';
import type { GatewayMetrics } from '../../metrics/gateway-metrics.js';
import { operationHash } from '../../approvals/binding.js';
import { approvalRefusal, approvalsUnavailable, heldMessage } from '../../approvals/held.js';
import type { ApprovalRequest, ApprovalService } from '../../approvals/types.js';
import { RECORDING_UNAVAILABLE, SessionRecording } from '../../recording/session-recording.js';
import { ProtocolError } from './errors.js';
import { FrameReader, frameTypeSet, type Frame } from './frame-reader.js';
import { Outbox } from './outbox.js';
import { OutcomeTracker, type Outcome } from './outcome-tracker.js';
import { connectUpstream, UpstreamError, type UpstreamConnection } from './upstream.js';
import { MaskingStateError, ResultMasking } from './result-masking.js';
import { Catalog } from '../../masking/catalog.js';
import { planStatements } from '../../masking/lineage.js';
import { withMaskingRefusal } from '../../masking/refusal.js';
import type { StatementMaskPlan } from '../../masking/plan.js';
import { NO_MASKING, type MaskingPolicies, type MaskingPolicy } from '../../masking/policy.js';
import { ValueMasker } from '../../masking/value-masker.js';
import { LiteralShapeCache } from '../../inspect/literal-shape-cache.js';

export interface TokenVerifierLike {
  verify(token: string): Promise<Identity>;
}

export interface PostgresSessionDeps {
  readonly listener: PostgresListenerConfig;
  readonly secureContext: tls.SecureContext | undefined;
  readonly verifier: TokenVerifierLike;
  readonly gate: Gate;
  readonly connections: ReadonlyMap<string, PostgresConnectionConfig>;
  readonly cancels: CancelRegistry;
  readonly logger: Logger;
  /** SQL text → inspector facts (cached by the caller). */
  readonly inspect: (text: string) => SqlInspection;
  readonly recorder: Recorder;
  readonly metrics: GatewayMetrics;
  /** Holds `review` operations for approval; without it they are refused. */
  readonly approvals: ApprovalService | undefined;
  readonly masking: SessionMaskingDeps;
}

/** Where a session gets its masking policy and the target's catalog (src/masking). */
export interface SessionMaskingDeps {
  readonly policies: MaskingPolicies;
  /** The catalog snapshots of a connection's target (one cache per connection). */
  catalog(connection: string): CatalogSnapshots;
}

export interface CatalogSnapshots {
  get(): Promise<Catalog>;
  /** A newer snapshot, for relations the current one lacks (rate-limited by the source). */
  refresh(): Promise<Catalog>;
}

/** Startup parameters relayed to the target; everything else the client sends is dropped. */
const RELAYED_STARTUP_PARAMETERS = new Set([
  'application_name',
  'client_encoding',
  'datestyle',
  'timezone',
  'extra_float_digits',
  'intervalstyle',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
]);

type Phase = 'startup' | 'password' | 'authenticating' | 'relay' | 'closed';

const MAX_TIMER_MS = 2 ** 31 - 1;
/** Largest password message accepted before authentication (PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH). */
const MAX_AUTH_MESSAGE_BYTES = 65_535;

export class PostgresSession implements Cancellable {
  readonly id = randomBytes(8).toString('hex');
  private socket: net.Socket;
  private phase: Phase = 'startup';
  private tls = false;
  private readonly loopback: boolean;
  private reader: FrameReader;
  private readonly log: Logger;
  private connectionName = '';
  private readonly clientAddress: string;
  private readonly recording: SessionRecording;
  private connectionRef: ConnectionRef | undefined;
  private identity: Identity | undefined;
  private upstream: UpstreamConnection | undefined;
  private backendKey: { processId: number; secretKey: Buffer } | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** Refusals substituted into the upstream stream, awaiting their ErrorResponse. */
  private readonly refusals = new Map<number, Refusal>();
  private readonly refusalTag = `portcullis_refused_${randomBytes(6).toString('hex')}_`;
  private refusalSeq = 0;
  /** SQL- and protocol-level prepared statement names → what they run. */
  private readonly preparedStatements = new Map<string, PreparedStatement>();
  /** The unnamed prepared statement, while it exists and was allowed. */
  private unnamedStatement: PreparedStatement | undefined;
  private readonly outcomes = new OutcomeTracker(performance.now.bind(performance));
  /** An operation held for approval: nothing after it is read from the client until it is decided. */
  private held: HeldOperation | undefined;
  /** Set when a masking policy applies to this identity on this connection. */
  private masking: ResultMasking | undefined;
  private maskPlans = new LiteralShapeCache<readonly StatementMaskPlan[]>(MASK_PLAN_CACHE_ENTRIES);
  /** A target reply set aside while the catalog is refreshed for a relation it names. */
  private catalogWait: Frame | undefined;
  private clientTerminated = false;
  /** The target sent a FATAL ErrorResponse: it is about to close, and said why. */
  private targetSentFatal = false;
  private readonly toUpstream = new Outbox();
  private readonly toClient = new Outbox();
  private closedResolve!: () => void;
  /** Resolves once both sides are closed. */
  readonly closed = new Promise<void>((resolve) => (this.closedResolve = resolve));

  constructor(
    socket: net.Socket,
    private readonly deps: PostgresSessionDeps,
  ) {
    this.socket = socket;
    this.loopback = isLoopback(socket.remoteAddress);
    this.reader = new FrameReader(deps.listener.maxMessageBytes, { startup: true });
    this.clientAddress = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = deps.logger.child({ session: this.id, client: this.clientAddress });
    this.recording = new SessionRecording(deps.recorder, this.id, this.log);
    socket.setNoDelay(true);
    this.attachClient(socket);
    this.authTimer = setTimeout(
      () => this.fail({ code: '08006', message: `authentication not completed within ${deps.listener.authTimeoutMs} ms; reconnect and send the access token as the password promptly` }),
      deps.listener.authTimeoutMs,
    );
  }

  /** Ends the session with a FATAL the client can read, e.g. on gateway shutdown. */
  terminate(code: string, message: string, endedBy: EndedBy = 'shutdown'): void {
    this.fail({ code, message }, endedBy);
  }

  /** Whether this is a relaying session of `subject`/`clientId` on connection `connection`. */
  isSessionOf(subject: string, clientId: string | undefined, connection: string): boolean {
    return (
      this.phase === 'relay' &&
      this.identity?.subject === subject &&
      this.identity.clientId === clientId &&
      this.connectionName === connection
    );
  }

  cancelUpstream(): void {
    const up = this.upstream;
    if (!up) return;
    const target = this.deps.connections.get(this.connectionName)?.target;
    if (!target) return;
    const s = net.connect({ host: target.host, port: target.port }, () => {
      s.end(serializeCancelRequest(up.processId, up.secretKey));
    });
    s.on('error', (err) => this.log.warn('cancel request to target failed', { error: err }));
    s.setTimeout(target.connectTimeoutMs, () => s.destroy());
  }

  // ------------------------------------------------------------------ client side

  private attachClient(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.onClientData(chunk));
    socket.on('error', (err) => this.log.debug('client socket error', { error: err }));
    socket.on('close', () =>
      this.teardown(
        this.reader.pendingBytes > 0
          ? `client closed the connection mid-message (${this.reader.pendingBytes} bytes of an incomplete message dropped)`
          : 'client closed the connection',
      ),
    );
    socket.on('drain', () => this.upstream?.socket.resume());
  }

  private onClientData(chunk: Buffer): void {
    // After a refusal the client may still be sending (e.g. the rest of an oversized
    // message): drop it rather than buffer it until the socket is destroyed.
    if (this.phase === 'closed') return;
    try {
      this.reader.push(chunk);
      this.processClientFrames();
    } catch (err) {
      this.failWith(err);
    }
  }

  private processClientFrames(): void {
    for (;;) {
      if (this.phase === 'authenticating' || this.phase === 'closed') return;
      if (this.held !== undefined) break;
      if (this.phase === 'relay') {
        const run = this.reader.takeRun(DECIDED_FRONTEND_TYPES);
        if (run) this.toUpstream.add(run);
      }
      const frame = this.reader.next();
      if (!frame) break;
      if (this.phase === 'startup') this.onStartupPacket(withContext('invalid startup packet', () => parseStartupPacket(frame.body)));
      else if (this.phase === 'password') this.onPassword(frame);
      else withContext(`invalid ${frontendMessageName(frame.type)} message`, () => this.relayClientFrame(frame));
    }
    if (this.upstream && !this.toUpstream.isEmpty) {
      this.waitingSince = performance.now();
      this.deps.recorder.whenDurable(this.flushToUpstream);
    }
  }

  /** When the pending forward started waiting for the recorder (for the recorder-lag metric). */
  private waitingSince = 0;

  /** Forwards what was decided, once its recording is durable (write before forward). */
  private readonly flushToUpstream = (durable: boolean): void => {
    this.deps.metrics.recorderLag((performance.now() - this.waitingSince) / 1000);
    const up = this.upstream;
    if (!up || this.isClosed()) return;
    if (!durable) {
      return this.fail({ code: '58000', message: `Portcullis: ${RECORDING_UNAVAILABLE.reason}` });
    }
    if (!this.toUpstream.isEmpty && !this.toUpstream.flushTo(up.socket)) this.socket.pause();
  };

  private onStartupPacket(packet: StartupPacket): void {
    switch (packet.kind) {
      case 'ssl':
        return this.onSslRequest();
      case 'gssenc':
        // GSSAPI encryption is not offered; libpq then falls back to SSL or plaintext.
        this.socket.write('N');
        return;
      case 'cancel':
        this.deps.cancels.cancel(packet.processId, packet.secretKey);
        this.closeQuietly();
        return;
      case 'startup':
        return this.onStartup(packet.parameters, packet.minorVersion, packet.protocolOptions);
    }
  }

  private onSslRequest(): void {
    if (this.tls) throw new ProtocolError('SSLRequest received inside TLS');
    if (this.reader.pendingBytes > 0) {
      // Bytes sent before the TLS handshake could be injected by a network attacker.
      throw new ProtocolError('unexpected data after SSLRequest');
    }
    const ctx = this.deps.secureContext;
    if (!ctx) {
      this.socket.write('N');
      return;
    }
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('drain');
    raw.write('S');
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: ctx });
    this.socket = secure;
    this.tls = true;
    this.reader = new FrameReader(this.deps.listener.maxMessageBytes, { startup: true });
    this.attachClient(secure);
    secure.on('error', (err) => this.log.info('TLS handshake with client failed', { error: err }));
  }

  private onStartup(parameters: ReadonlyMap<string, string>, minor: number, protocolOptions: readonly string[]): void {
    this.reader.endStartupPhase();
    // Until the token is verified only a password message may come: an unauthenticated
    // client must not make us buffer a maxMessageBytes-sized frame.
    this.reader.setMaxFrameBytes(Math.min(this.deps.listener.maxMessageBytes, MAX_AUTH_MESSAGE_BYTES));
    if (minor > 0 || protocolOptions.length > 0) {
      this.socket.write(serializeNegotiateProtocolVersion(0, protocolOptions));
    }
    const replication = parameters.get('replication');
    if (replication !== undefined && !['false', 'off', 'no', '0'].includes(replication.toLowerCase())) {
      return this.fail({
        code: '0A000',
        message: 'replication connections are not supported through Portcullis; connect without replication=',
      });
    }
    const options = parameters.get('options');
    if (options !== undefined && options.trim() !== '') {
      return this.fail({
        code: '0A000',
        message:
          'startup "options" are not accepted by Portcullis: they can change how statements are parsed or who runs them; ' +
          'remove PGOPTIONS/options and use SET inside the session where policy allows it',
      });
    }
    this.connectionName = parameters.get('database') ?? parameters.get('user') ?? '';
    for (const [name, value] of parameters) {
      // The inspector reads statements as UTF-8; another client encoding would let the
      // server see different text than the gate decided on.
      const relayed =
        RELAYED_STARTUP_PARAMETERS.has(name.toLowerCase()) &&
        (name.toLowerCase() !== 'client_encoding' || isUtf8EncodingName(value));
      if (relayed) this.clientParameters[name] = value;
      else if (name !== 'user' && name !== 'database') this.droppedParameters.push(name);
    }
    const { mode, allowLoopbackPlaintext } = this.deps.listener.tls;
    const plaintextAllowed = this.loopback && (mode !== 'require' || allowLoopbackPlaintext);
    if (!this.tls && !plaintextAllowed) {
      // The password is an access token: never let it cross a network in cleartext.
      return this.fail({
        code: '28000',
        message: this.deps.secureContext
          ? 'TLS is required: reconnect with sslmode=require (the access token is sent as the password)'
          : 'plaintext connections are accepted only from loopback, and this gateway has no TLS certificate configured',
      });
    }
    this.phase = 'password';
    this.socket.write(serializeAuthenticationCleartext());
  }

  /** Sessions are always UTF8 whatever the target database's encoding (see onStartup). */
  private readonly clientParameters: Record<string, string> = { client_encoding: 'UTF8' };
  /** Startup parameters not relayed; the client is told after authentication. */
  private readonly droppedParameters: string[] = [];

  private onPassword(frame: Frame): void {
    if (frame.type !== Fe.Password) throw new ProtocolError('expected a password message');
    const nul = frame.body.indexOf(0);
    const token = frame.body.toString('utf8', 0, nul === -1 ? frame.body.length : nul).trim();
    if (token === '') {
      return this.fail({
        code: '28P01',
        message: 'no access token: pass an OIDC access token as the password (e.g. PGPASSWORD=$(portcullis token …))',
      });
    }
    this.phase = 'authenticating';
    this.socket.pause();
    this.authenticate(token).catch((err: unknown) => this.failWith(err));
  }

  private async authenticate(token: string): Promise<void> {
    let identity: Identity;
    try {
      identity = await this.deps.verifier.verify(token);
    } catch (err) {
      const reason = err instanceof TokenError ? err.message : 'the token could not be verified';
      this.log.info('authentication failed', { reason: err instanceof TokenError ? err.code : 'error' });
      this.recording.authFailure(this.clientAddress, this.connectionName, `invalid access token: ${reason}`);
      this.deps.metrics.authFailure('postgres', 'invalid-token');
      return this.fail({ code: '28P01', message: `invalid access token: ${reason}` });
    }
    if (this.isClosed()) return;
    this.identity = identity;
    const connection = this.deps.connections.get(this.connectionName);
    if (!connection) {
      this.deps.metrics.authFailure('postgres', 'unknown-connection');
      return this.fail({
        code: '3D000',
        message: `connection "${this.connectionName}" does not exist; set the database name to a Portcullis connection name`,
      });
    }
    this.connectionRef = { name: connection.name, type: connection.type };
    const decision = this.decide({ kind: 'session', connection: this.connectionRef, text: '', via: 'startup' });
    if (decision.effect !== 'allow') {
      this.recording.authFailure(this.clientAddress, connection.name, `access refused by rule ${decision.rule}`, identity.subject);
      this.deps.metrics.authFailure('postgres', 'access-denied');
      return this.fail({ code: '28000', message: `access to connection "${connection.name}" refused: ${decision.reason}` });
    }
    const accessGrant = this.approvedAccess(connection, identity);
    if (accessGrant === null) return;
    try {
      this.upstream = await connectUpstream(connection.target, this.clientParameters, this.deps.listener.maxMessageBytes);
    } catch (err) {
      const e = err instanceof UpstreamError ? err : new UpstreamError('unreachable', String(err));
      this.log.warn('upstream connection failed', { connection: connection.name, kind: e.kind, sqlState: e.sqlState, detail: e.message });
      const message =
        e.kind === 'auth'
          ? `the target of connection "${connection.name}" rejected the gateway's credentials; this is a gateway configuration problem — report it to a Portcullis administrator`
          : e.kind === 'tls'
            ? `could not connect to the target of connection "${connection.name}": ${e.message}; this is a gateway configuration problem — report it to a Portcullis administrator`
            : `could not connect to the target of connection "${connection.name}": ${e.message}; retry later`;
      return this.fail({ code: '08001', message });
    }
    if (this.isClosed()) {
      this.upstream.socket.destroy();
      return;
    }
    if (!(await this.prepareMasking(connection, identity))) return;
    if (this.isClosed()) return;
    this.startRelay(connection, identity, accessGrant);
  }

  /**
   * Loads what masking needs before the first statement can be decided: the policy for this
   * identity and the target's catalog. False after refusing the session (the catalog could
   * not be read, so results could not be masked).
   */
  private async prepareMasking(connection: PostgresConnectionConfig, identity: Identity): Promise<boolean> {
    if (connection.recordResultRows > 0) this.outcomes.setResultSampling({ resultRowLimit: connection.recordResultRows });
    const masked = this.deps.masking.policies.forIdentity(connection, identity);
    // Recording rows needs to know each result's columns and formats even when nothing is masked.
    const policy = masked ?? (connection.recordResultRows > 0 ? NO_MASKING : undefined);
    if (policy === undefined) return true;
    let catalog: Catalog;
    try {
      catalog = masked === undefined ? new Catalog([], connection.target.user) : await this.deps.masking.catalog(connection.name).get();
    } catch (err) {
      this.log.error('catalog unavailable; refusing the session', { connection: connection.name, error: err });
      this.upstream?.socket.destroy();
      this.fail({
        code: '58000',
        message:
          `results on connection "${connection.name}" are masked for you, and Portcullis could not read the target's catalog to ` +
          'know which columns to mask, so the session was refused; retry later, and report it to a Portcullis administrator if it persists',
      });
      return false;
    }
    try {
      this.masking = new ResultMasking(policy, catalog, valueMaskerFor(policy));
    } catch (err) {
      // The config check refuses what would fail here (short hash keys, bad labels): a gateway bug.
      this.log.error('masking policy unusable; refusing the session', { connection: connection.name, error: err });
      this.upstream?.socket.destroy();
      this.fail({ code: 'XX000', message: `the masking policy of connection "${connection.name}" cannot be applied; report it to a Portcullis administrator` });
      return false;
    }
    return true;
  }

  /**
   * A connection with `access.require_approval` admits only identities holding an approved,
   * unexpired access request for it: returns that grant, undefined when none is needed, or
   * null after refusing the session (saying how to ask).
   */
  private approvedAccess(connection: PostgresConnectionConfig, identity: Identity): AccessGrant | undefined | null {
    const required = connection.access.requireApproval;
    if (required === undefined) return undefined;
    let grant: AccessGrant | undefined;
    try {
      grant = this.deps.approvals?.accessGrant(identity.subject, identity.clientId, connection.name);
    } catch (err) {
      this.log.error('could not read access grants; refusing the session', { error: err });
      this.fail({ code: '58000', message: `Portcullis could not check access requests for connection "${connection.name}"; retry later, and report it to a Portcullis administrator if it persists` });
      return null;
    }
    if (grant !== undefined) return grant;
    this.recording.authFailure(this.clientAddress, connection.name, 'no approved access request', identity.subject);
    this.deps.metrics.authFailure('postgres', 'access-denied');
    this.fail({
      code: '28000',
      message:
        `connection "${connection.name}" needs an approved access request: ask for one with ` +
        `portcullis access request --connection ${connection.name} --duration 30m --reason "…" (or POST /api/access-requests), ` +
        `then reconnect once an approver (group ${required.approvers.join(', ')}) has approved it`,
    });
    return null;
  }

  private startRelay(connection: PostgresConnectionConfig, identity: Identity, accessGrant: AccessGrant | undefined): void {
    const up = this.upstream!;
    try {
      this.recording.start(connection.name, identity, this.clientAddress, this.tls);
    } catch (err) {
      this.log.error('recording unavailable; refusing the session', { error: err });
      return this.fail({ code: '58000', message: `Portcullis: ${RECORDING_UNAVAILABLE.reason}` });
    }
    // The session is served once its start is recorded (a commit can still fail after the write was accepted).
    this.deps.recorder.whenDurable((durable) => {
      if (this.isClosed()) return;
      if (!durable) {
        this.log.error('recording unavailable; refusing the session', { reason: 'the session start could not be committed' });
        return this.fail({ code: '58000', message: `Portcullis: ${RECORDING_UNAVAILABLE.reason}` });
      }
      this.openRelay(connection, identity, accessGrant, up);
    });
  }

  private openRelay(connection: PostgresConnectionConfig, identity: Identity, accessGrant: AccessGrant | undefined, up: UpstreamConnection): void {
    const unsafe = unsafeSessionSettings(up.parameters);
    if (unsafe) {
      this.log.error('target session settings are unsafe to inspect', { connection: connection.name, unsafe });
      return this.fail({
        code: '42501',
        message:
          `the target of connection "${connection.name}" starts sessions with ${unsafe}, under which statements could ` +
          'be parsed differently than Portcullis inspects them; this is a gateway configuration problem — report it to a Portcullis administrator',
      });
    }
    clearTimeout(this.authTimer);
    this.backendKey = this.deps.cancels.issue(this);
    const out = this.toClient;
    out.add(serializeAuthenticationOk());
    for (const notice of up.notices) out.add(notice);
    if (this.droppedParameters.length > 0) {
      out.add(
        serializeNoticeResponse({
          severity: 'WARNING',
          code: '01000',
          message: `Portcullis ignored startup parameters ${this.droppedParameters.map((p) => `"${p}"`).join(', ')}`,
          hint: 'use SET inside the session where policy allows it',
        }),
      );
    }
    for (const [name, value] of up.parameters) out.add(serializeParameterStatus(name, value));
    out.add(serializeBackendKeyData(this.backendKey.processId, this.backendKey.secretKey));
    out.add(serializeReadyForQuery('I'));
    out.flushTo(this.socket);
    this.phase = 'relay';
    this.deps.metrics.sessionOpened('postgres', connection.name);
    this.log.info('session opened', {
      connection: connection.name,
      subject: identity.subject,
      clientId: identity.clientId,
      tls: this.tls,
      upstreamTls: up.tls,
    });
    const tokenEnds = identity.expiresAt + this.deps.listener.tokenExpiryGraceMs;
    const accessEnds = accessGrant === undefined || accessGrant.expiresAt >= tokenEnds ? undefined : accessGrant;
    const untilExpiry = Math.min((accessEnds?.expiresAt ?? tokenEnds) - Date.now(), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      if (accessEnds !== undefined) {
        this.log.info('session ended: access grant expired', { subject: identity.subject, request: accessEnds.requestId });
        return this.fail(
          {
            code: '28000',
            message:
              `access to connection "${connection.name}" granted by request ${accessEnds.requestId} ended at ` +
              `${new Date(accessEnds.expiresAt).toISOString()}; ask for access again with portcullis access request`,
          },
          'access-expiry',
        );
      }
      this.log.info('session ended: token expired', { subject: identity.subject });
      this.fail(
        {
          code: '28000',
          message: `access token expired at ${new Date(identity.expiresAt).toISOString()}; obtain a new token and reconnect`,
        },
        'token-expiry',
      );
    }, Math.max(untilExpiry, 0));
    up.socket.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
    // Once the client has ended the session, a reset from a target that already hung up is expected.
    up.socket.on('error', (err) => {
      if (this.phase === 'closed' || this.clientTerminated) this.log.debug('target socket error', { error: err });
      else this.log.warn('target socket error', { error: err });
    });
    up.socket.on('close', () => this.onUpstreamClosed());
    up.socket.on('drain', () => this.socket.resume());
    up.socket.resume();
    // Bytes the target sent right after startup, and anything the client pipelined.
    // Both run outside a data handler: their errors must end the session, not escape
    // as an unhandled rejection of authenticate() (which would crash the gateway).
    this.onUpstreamData(Buffer.alloc(0));
    if (this.isClosed()) return;
    this.socket.resume();
    this.reader.setMaxFrameBytes(this.deps.listener.maxMessageBytes);
    this.onClientData(Buffer.alloc(0));
  }

  // ------------------------------------------------------------------ relay

  /**
   * The one place a statement becomes an Operation and the gate decides it. A statement's
   * decision is recorded before anything is forwarded; if it cannot be, it is refused.
   */
  private decide(operation: Operation): Decision {
    const decision = this.deps.gate(this.identity!, operation);
    if (decision.effect !== 'allow') {
      this.log.info('operation refused', { kind: operation.kind, via: operation.via, rule: decision.rule });
    }
    return decision;
  }

  /** Decides a statement and records the decision; `seq` is its event (undefined when refused). */
  /**
   * Decides a statement and records the decision; `seq` is its event, for an operation that
   * may run (allowed, or held for review), else undefined.
   */
  private decideSql(operation: Operation): { decision: Decision; seq: number | undefined; plans: readonly StatementMaskPlan[] } {
    const gated = this.decide(operation);
    let decision = gated;
    let plans: readonly StatementMaskPlan[] = NO_PLANS;
    if (this.masking !== undefined && !this.masking.inert && gated.effect !== 'deny') {
      // The facts as inspected (cached), before EXECUTE is substituted by what it runs.
      plans = this.withPreparedPlans(this.maskPlansFor(operation.text), this.deps.inspect(operation.text));
      decision = withMaskingRefusal(gated, plans);
      if (decision !== gated) this.log.info('operation refused by masking', { via: operation.via, rule: decision.rule });
    }
    this.deps.metrics.operationDecided('postgres', this.connectionName, decision.effect);
    const seq = this.recording.operation(operation, decision);
    if (seq === undefined) return { decision: RECORDING_UNAVAILABLE, seq, plans };
    return { decision, seq: decision.effect === 'deny' ? undefined : seq, plans };
  }

  /**
   * SQL `EXECUTE p` runs what `p` was prepared as — possibly through the extended protocol,
   * whose Parse was planned: its rows get that plan. (What else could run `p`, CREATE TABLE …
   * AS EXECUTE, lineage refuses.)
   */
  private withPreparedPlans(plans: readonly StatementMaskPlan[], facts: SqlInspection | undefined): readonly StatementMaskPlan[] {
    if (facts?.ok !== true || !facts.statements.some((s) => s.preparedName !== undefined)) return plans;
    return plans.map((plan, i) => {
      const statement = facts.statements[i];
      if (statement?.kind !== 'execute' || statement.preparedName === undefined || plan.refusal !== undefined) return plan;
      const prepared = this.preparedStatements.get(statement.preparedName)?.maskPlan;
      return prepared === undefined ? plan : { ...prepared, returnsRows: true };
    });
  }

  /**
   * What masking does with each statement of a text (cached per catalog snapshot and per
   * literal shape: a plan holds no text, so statements differing only in numeric literals
   * share one unless a literal's value decided it).
   */
  private maskPlansFor(text: string): readonly StatementMaskPlan[] {
    const masking = this.masking!;
    const cached = this.maskPlans.get(text);
    if (cached !== undefined) return cached.value;
    const { policy } = masking;
    return this.maskPlans.compute(text, () =>
      planStatements(text, {
        catalog: masking.snapshot,
        searchPath: this.upstream!.searchPath,
        columnMask: policy.columnMask,
        denyPredicates: policy.denyPredicates,
        onDerived: policy.onDerived,
      }),
    );
  }

  private sqlOperation(text: string, via: string): Operation {
    const facts = this.substitutePrepared(this.deps.inspect(text));
    return { kind: 'sql', connection: this.connectionRef!, text, via, facts, searchPath: this.upstream!.searchPath };
  }

  /**
   * `EXECUTE p` is decided as what `p` was prepared as — earlier in the session, or by a
   * PREPARE earlier in the same query text; an unknown `p` stays unknown (denied).
   */
  private substitutePrepared(inspection: SqlInspection): SqlInspection {
    if (!inspection.ok || !inspection.statements.some((s) => s.preparedName !== undefined)) return inspection;
    const inThisText = new Map<string, StatementFacts>();
    return {
      ok: true,
      statements: inspection.statements.map((s) => {
        if (s.preparesName !== undefined) inThisText.set(s.preparesName, s);
        if (s.preparedName === undefined) return s;
        const prepared = inThisText.get(s.preparedName) ?? this.preparedStatements.get(s.preparedName)?.facts;
        if (prepared) return withPreparedFacts(s, prepared);
        const note = `prepared statement "${s.preparedName}" was not prepared in this session through Portcullis: PREPARE it first, then EXECUTE it`;
        return { ...s, notes: [note, ...(s.notes ?? [])] };
      }),
    };
  }

  /**
   * Remembers what allowed PREPAREs and named protocol-level Parses define (they share one
   * namespace on the server). Never overwrites a live name: the server refuses a duplicate
   * and keeps the original. Forgetting too early only makes a later EXECUTE unknown, i.e. denied.
   */
  private rememberPrepared(
    operation: Operation,
    decision: Decision,
    protocolName: string | undefined,
    maskPlan: StatementMaskPlan | undefined = undefined,
  ): void {
    const inspection = operation.facts;
    if (!inspection?.ok) return;
    if (protocolName) {
      const [only] = inspection.statements;
      if (only && !this.preparedStatements.has(protocolName)) {
        this.preparedStatements.set(protocolName, { facts: only, text: operation.text, executes: executionDecision(decision), maskPlan });
      }
    }
    for (const s of inspection.statements) {
      if (s.preparesName !== undefined && !this.preparedStatements.has(s.preparesName)) {
        this.preparedStatements.set(s.preparesName, { facts: s, text: s.text, executes: allowedExecution(decision.rule), maskPlan: undefined });
      } else if (s.deallocatesName === '*') this.preparedStatements.clear();
      else if (s.deallocatesName !== undefined) this.preparedStatements.delete(s.deallocatesName);
    }
  }

  private relayClientFrame(frame: Frame): void {
    switch (frame.type) {
      case Fe.Query: {
        // A simple Query also destroys the unnamed prepared statement.
        this.unnamedStatement = undefined;
        if (!isUtf8(frame.body)) return this.refuseQuery(this.recordRefusal(INVALID_UTF8, 'simple-query'));
        const operation = this.sqlOperation(parseQuery(frame.body), 'simple-query');
        const { decision, seq, plans } = this.decideSql(operation);
        if (seq === undefined) return this.refuseQuery(decision);
        const held: HeldOperation = { kind: 'query', raw: frame.raw, plans, operation, decision, seq, parameters: undefined };
        if (decision.effect === 'review') return this.hold(held);
        this.release(held);
        return;
      }
      case Fe.Parse: {
        const parse = parseParse(frame.body);
        if (parse.statement === '') this.unnamedStatement = undefined;
        const refuse = (d: Decision): void => this.toUpstream.add(serializeParse(parse.statement, this.refusalSentinel(d), []));
        if (!isUtf8(frame.body.subarray(0, frame.body.length - 2 - 4 * parse.parameterTypes.length))) {
          return refuse(this.recordRefusal(INVALID_UTF8, 'parse'));
        }
        const operation = this.sqlOperation(parse.sql, 'parse');
        const { decision, seq, plans } = this.decideSql(operation);
        if (seq === undefined) return refuse(decision);
        // Preparing runs nothing: a statement needing review is held when a Bind executes it, with its values.
        this.rememberPrepared(operation, decision, parse.statement === '' ? undefined : parse.statement, plans[0]);
        if (parse.statement === '') {
          this.unnamedStatement = { facts: undefined, text: parse.sql, executes: executionDecision(decision), maskPlan: plans[0] };
        }
        this.toUpstream.add(frame.raw);
        return;
      }
      case Fe.Bind:
        return this.relayBind(frame);
      case Fe.Execute: {
        const portal = parseExecutePortal(frame.body);
        this.outcomes.execute(portal);
        this.masking?.execute(portal);
        this.toUpstream.add(frame.raw);
        return;
      }
      case Fe.Sync:
        this.outcomes.sync();
        this.masking?.sync();
        this.toUpstream.add(frame.raw);
        return;
      case Fe.Close: {
        const close = parseClose(frame.body);
        if (close.kind === 'statement') {
          if (close.name === '') this.unnamedStatement = undefined;
          else this.preparedStatements.delete(close.name);
        }
        this.toUpstream.add(frame.raw);
        return;
      }
      case Fe.FunctionCall:
        this.recordRefusal(FUNCTION_CALL_REFUSED, 'function-call');
        return this.refuseQuery(FUNCTION_CALL_REFUSED);
      case Fe.Terminate:
        this.clientTerminated = true;
        this.toUpstream.add(frame.raw);
        return;
      default:
        this.toUpstream.add(frame.raw);
    }
  }

  /**
   * A Bind runs a statement decided when it was prepared: it is recorded (with its parameter
   * values) before it is forwarded, as an execution of that statement. A Bind of a statement
   * this session did not prepare through the gateway (or whose recording fails) is replaced by
   * a Bind of a statement that does not exist, so the target refuses it in place.
   */
  private relayBind(frame: Frame): void {
    const bind = parseBind(frame.body);
    const statement = bind.statement === '' ? this.unnamedStatement : this.preparedStatements.get(bind.statement);
    if (statement === undefined) {
      const refusal = this.recordRefusal(unknownStatement(bind.statement), 'bind');
      // An unknown statement keeps PostgreSQL's own SQLSTATE: drivers re-prepare on it.
      this.outcomes.bind(bind.portal, undefined);
      this.masking?.bind(bind.portal, undefined, false);
      this.toUpstream.add(serializeBind(bind.portal, this.refusalSentinel(refusal, INVALID_STATEMENT_NAME)));
      return;
    }
    const decision = statement.executes;
    const parameters = bind.parameters.map((value, i) => recordedParameter(value, bind.parameterFormats[i]!));
    const operation: Operation = { kind: 'sql', connection: this.connectionRef!, text: statement.text, via: 'bind' };
    const seq = this.recording.operation(operation, decision, parameters);
    const held: HeldOperation = {
      kind: 'bind',
      raw: frame.raw,
      portal: bind.portal,
      maskPlan: statement.maskPlan,
      operation,
      decision,
      seq: seq ?? 0,
      parameters,
    };
    if (seq === undefined) return this.refuseHeld(held, RECORDING_UNAVAILABLE);
    if (decision.effect === 'review') return this.hold(held);
    this.release(held);
  }

  // ------------------------------------------------------------------ approvals

  /**
   * Holds an operation the gate sent to review: an approved, unused grant for exactly it
   * releases it at once; otherwise an approval request is made, the agent is told (a
   * NoticeResponse naming the request, the rule and how to approve it), and nothing more is
   * read from the client until an approver decides or the request times out.
   */
  private hold(held: HeldOperation): void {
    const approvals = this.deps.approvals;
    const review = this.deps.connections.get(this.connectionName)?.rules.find((r) => r.name === held.decision.rule)?.review;
    if (approvals === undefined || review === undefined) return this.refuseHeld(held, approvalsUnavailable(held.decision));
    const identity = this.identity!;
    const binding = {
      subject: identity.subject,
      clientId: identity.clientId,
      connection: this.connectionName,
      rule: held.decision.rule,
      operationHash: operationHash(held.operation.text, held.parameters),
    };
    let request: ApprovalRequest;
    try {
      const granted = approvals.redeem(binding);
      if (granted !== undefined) {
        this.log.info('held operation released by an earlier approval', { request: granted.id, rule: binding.rule });
        return this.release(held);
      }
      request = approvals.request({
        ...binding,
        groups: identity.groups,
        text: held.operation.text,
        parameters: held.parameters,
        sessionId: this.id,
        reason: held.decision.reason,
        review,
      });
    } catch (err) {
      this.log.error('could not create an approval request; refusing the operation', { error: err });
      return this.refuseHeld(held, approvalsUnavailable(held.decision));
    }
    const abort = new AbortController();
    this.held = { ...held, request, abort };
    this.socket.pause();
    this.log.info('operation held for approval', { request: request.id, rule: binding.rule });
    this.socket.write(serializeNoticeResponse(heldNotice(request, review.timeoutMs)));
    approvals.wait(request.id, abort.signal).then(
      (decided) => this.onApprovalDecided(decided),
      (err: unknown) => this.failWith(err),
    );
  }

  private onApprovalDecided(request: ApprovalRequest): void {
    const held = this.held;
    if (this.isClosed() || held?.request?.id !== request.id || request.status === 'pending') return;
    this.held = undefined;
    try {
      if (request.status === 'approved' && this.redeemHeld(request)) {
        this.log.info('held operation approved; forwarding it', { request: request.id });
        this.release(held);
      } else {
        const decision = approvalRefusal(held.decision, request);
        this.recording.outcome({
          operationSeq: held.seq,
          durationMs: Math.max(0, Date.now() - request.createdAt),
          error: { code: INSUFFICIENT_PRIVILEGE, message: decision.reason },
        });
        this.refuseHeld(held, decision);
      }
      this.socket.resume();
      this.processClientFrames();
    } catch (err) {
      this.failWith(err);
    }
  }

  /** Uses up the approval's grant; false when it is no longer usable (then the operation must not run). */
  private redeemHeld(request: ApprovalRequest): boolean {
    try {
      this.deps.approvals!.markRedeemed(request.id);
      return true;
    } catch (err) {
      this.log.warn('approved grant could not be used; refusing the held operation', { request: request.id, error: err });
      return false;
    }
  }

  /** Forwards an operation that may run (allowed, or approved). */
  private release(held: HeldOperation): void {
    if (held.kind === 'query') {
      this.rememberPrepared(held.operation, held.decision, undefined);
      this.outcomes.query(held.seq);
      this.masking?.query(held.plans);
      this.toUpstream.add(held.raw);
      return;
    }
    this.outcomes.bind(held.portal, held.seq);
    this.toUpstream.add(held.raw);
    if (this.masking !== undefined) {
      // Learn the portal's real columns and result formats, whatever the client describes.
      this.masking.bind(held.portal, held.maskPlan, true);
      this.toUpstream.add(serializeDescribe('portal', held.portal));
    }
  }

  /** Replaces an operation that may not run by a refusal the target produces in its place. */
  private refuseHeld(held: HeldOperation, decision: Decision): void {
    if (held.kind === 'query') return this.refuseQuery(decision);
    this.outcomes.bind(held.portal, undefined);
    this.masking?.bind(held.portal, undefined, false);
    this.toUpstream.add(serializeBind(held.portal, this.refusalSentinel(decision)));
  }


  /** A refusal decided before any SQL text could be inspected is recorded too. */
  private recordRefusal(decision: Decision, via: string): Decision {
    this.deps.metrics.operationDecided('postgres', this.connectionName, decision.effect);
    this.recording.operation({ kind: 'sql', connection: this.connectionRef!, text: '', via }, decision);
    return decision;
  }

  private refuseQuery(decision: Decision): void {
    this.outcomes.query(undefined);
    this.masking?.query(NO_PLANS);
    this.toUpstream.add(serializeQuery(this.refusalSentinel(decision)));
  }

  /**
   * A refused statement is replaced by a statement that fails to parse on the target.
   * The target then produces the error at exactly the right place in the response
   * stream and applies PostgreSQL's own rules (skip to Sync, abort the transaction), and
   * the error is rewritten into the refusal on the way back.
   */
  private refusalSentinel(decision: Decision, code: string = INSUFFICIENT_PRIVILEGE): string {
    const seq = ++this.refusalSeq;
    this.refusals.set(seq, { decision, code });
    return this.refusalTag + seq;
  }


  private onUpstreamData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    try {
      this.upstream!.reader.push(chunk);
      this.drainUpstreamReader();
    } catch (err) {
      if (err instanceof MaskingStateError) {
        this.log.error('masking lost track of the result; ending the session', { error: err });
        return this.fail({
          code: 'XX000',
          message: `Portcullis ended the session: ${err.message}; reconnect, and report it to a Portcullis administrator if it persists`,
        });
      }
      if (err instanceof ProtocolError && err.sqlState === '54000') {
        // Not a broken target: a row (or other message) above the relay limit. Say so.
        this.log.warn('target message too large to relay', { error: err });
        return this.fail({
          code: '54000',
          message:
            `the target sent a message too large to relay (${err.message}), so the session was ended; ` +
            'select fewer or smaller values, or ask a Portcullis administrator to raise postgres.max_message_size',
        });
      }
      this.log.warn('target broke the protocol', { error: err });
      this.fail({ code: '08P01', message: 'the target sent an invalid message, so the session was ended; reconnect, and report it to a Portcullis administrator if it persists' });
    }
  }

  private drainUpstreamReader(): void {
    if (this.catalogWait !== undefined) return;
    const reader = this.upstream!.reader;
    const outcomes = this.outcomes;
    const masking = this.masking;
    for (;;) {
      const inspected =
        masking === undefined ? INSPECTED_BACKEND_TYPES : masking.inert && !outcomes.wantsRows() ? TRACKED_BACKEND_TYPES : MASKED_BACKEND_TYPES;
      const run = reader.takeRun(inspected, Be.DataRow);
      if (run) {
        if (reader.lastRunCount > 0) outcomes.dataRows(reader.lastRunCount, reader.lastRunCountBytes);
        this.toClient.add(run);
      }
      const f = reader.next();
      if (!f) break;
      let out: Buffer | undefined = f.raw;
      switch (f.type) {
        case Be.DataRow:
          outcomes.dataRows(1, f.raw.length);
          if (masking !== undefined) {
            out = masking.dataRow(f.body) ?? f.raw;
            // What is recorded is what the agent got: the masked row.
            if (outcomes.wantsRows()) this.sampleRow(out, masking.currentFormats());
          }
          break;
        case Be.RowDescription: {
          if (masking !== undefined) {
            const unknown = masking.unknownRelations(f.body);
            if (unknown.length > 0) return this.awaitCatalog(f, unknown);
            if (masking.rowDescription(f.body) === 'swallow') out = undefined;
          }
          outcomes.rowDescription(parseRowDescriptionNames(f.body));
          break;
        }
        case Be.NoData:
          if (masking?.noData() === 'swallow') out = undefined;
          break;
        case Be.BindComplete:
          masking?.bindComplete();
          break;
        case Be.CopyOutResponse:
          masking?.copyOut();
          break;
        case Be.CopyData:
          out = masking?.copyData(f.body) ?? f.raw;
          break;
        case Be.CopyDone:
          masking?.copyDone();
          break;
        case Be.NoticeResponse:
          out = masking?.notice(f.type, f.body) ?? f.raw;
          break;
        case Be.NotificationResponse:
          out = masking?.notification(f.body) ?? f.raw;
          break;
        case Be.CommandComplete:
          masking?.resultEnded();
          this.recordOutcome(outcomes.commandComplete(parseCommandComplete(f.body)));
          break;
        case Be.EmptyQueryResponse:
        case Be.PortalSuspended:
          masking?.resultEnded();
          this.recordOutcome(outcomes.executionEnded());
          break;
        case Be.ReadyForQuery:
          masking?.readyForQuery();
          for (const outcome of outcomes.readyForQuery()) this.recordOutcome(outcome);
          break;
        case Be.ParameterStatus: {
          const { name, value } = parseParameterStatus(f.body);
          if (this.parseRelevantChanged(name, value)) return;
          break;
        }
        case Be.ErrorResponse: {
          if (isFatal(f.body)) this.targetSentFatal = true;
          masking?.error();
          const refusal = this.refusals.size > 0 ? this.rewriteRefusal(f) : undefined;
          if (refusal !== undefined) {
            this.toClient.add(refusal);
            continue;
          }
          if (masking !== undefined) out = masking.notice(f.type, f.body) ?? f.raw;
          // What is recorded is what the agent saw: the masked message.
          const fields = parseErrorFields(out === f.raw ? f.body : out.subarray(5));
          this.recordOutcome(outcomes.error(fields.get('C') ?? '', fields.get('M') ?? ''));
          break;
        }
      }
      if (out !== undefined) this.toClient.add(out);
    }
    if (!this.toClient.flushTo(this.socket)) this.upstream!.socket.pause();
  }

  private sampleRow(frame: Buffer, formats: readonly number[] | undefined): void {
    const values = parseDataRow(frame.subarray(5));
    this.outcomes.sampleRow(values.map((value, i) => recordedParameter(value, formats?.[i] ?? 0)));
  }

  /**
   * A result names a relation the catalog snapshot lacks (created since it was read): sets the
   * reply aside, reads the catalog again, then carries on from that reply. If the relation is
   * still unknown, its columns are masked whole.
   */
  private awaitCatalog(frame: Frame, oids: readonly number[]): void {
    const masking = this.masking!;
    const up = this.upstream!;
    this.catalogWait = frame;
    this.toClient.flushTo(this.socket);
    up.socket.pause();
    this.deps.masking
      .catalog(this.connectionName)
      .refresh()
      .then(
        (catalog) => masking.setCatalog(catalog, oids),
        (err: unknown) => {
          this.log.warn('catalog refresh failed; masking the unknown relation\'s columns whole', { error: err });
          masking.setCatalog(masking.snapshot, oids);
        },
      )
      .then(() => {
        if (this.isClosed()) return;
        this.maskPlans = new LiteralShapeCache(MASK_PLAN_CACHE_ENTRIES);
        const waiting = this.catalogWait!;
        this.catalogWait = undefined;
        up.reader.unshift(waiting);
        this.onUpstreamData(Buffer.alloc(0));
        if (!this.isClosed() && !this.socket.writableNeedDrain) up.socket.resume();
      });
  }

  private recordOutcome(outcome: Outcome | undefined): void {
    if (outcome === undefined) return;
    this.recording.outcome(outcome);
    this.deps.metrics.operationCompleted('postgres', this.connectionName, outcome.durationMs / 1000);
  }

  /**
   * Policy decisions assume the settings the session started with. If one that changes
   * how statements are parsed or who runs them changes anyway (the gate refuses the
   * statements that do this, so something slipped through), end the session.
   */
  private parseRelevantChanged(name: string, value: string): boolean {
    const initial = this.upstream!.parameters.find(([n]) => n === name)?.[1];
    if (initial === value || !isParseRelevantChange(name, value)) return false;
    this.log.warn('parse-relevant setting changed; ending session', { parameter: name });
    this.fail({
      code: '42501',
      message:
        `Portcullis ended the session: the server reported that "${name}" changed, which changes how statements ` +
        'are parsed or who runs them; reconnect and do not change it',
    });
    return true;
  }

  private rewriteRefusal(frame: Frame): Buffer | undefined {
    const message = parseErrorFields(frame.body).get('M') ?? '';
    const at = message.indexOf(this.refusalTag);
    if (at === -1) return undefined;
    const seq = parseInt(message.slice(at + this.refusalTag.length), 10);
    const refusal = this.refusals.get(seq);
    // Refusals before this one were skipped by the target (an earlier error in the batch).
    for (const key of this.refusals.keys()) if (key <= seq) this.refusals.delete(key);
    return refusal ? serializeErrorResponse(refusalError(refusal.decision, refusal.code)) : undefined;
  }

  private onUpstreamClosed(): void {
    if (this.phase !== 'relay') return;
    if (this.clientTerminated) return this.teardown('client terminated the session');
    if (this.targetSentFatal) {
      // The client already has the target's own FATAL; nothing may follow it.
      this.socket.end();
      return this.teardown('the target ended the session', 'upstream');
    }
    this.fail({ code: '57P01', message: 'the target closed the connection; reconnect to start a new session' }, 'upstream');
  }

  // ------------------------------------------------------------------ ending

  /** Re-read after awaits: the client may have gone while we waited. */
  private isClosed(): boolean {
    return this.phase === 'closed';
  }

  private failWith(err: unknown): void {
    if (err instanceof ProtocolError) {
      this.log.info('client protocol violation', { error: err });
      this.fail({ code: err.sqlState, message: `protocol violation: ${err.message}` }, 'client');
    } else {
      this.log.error('session error', { error: err });
      this.fail({ code: 'XX000', message: 'internal gateway error, so the session was ended; reconnect, and report it to a Portcullis administrator if it persists' });
    }
  }

  /** Sends a FATAL ErrorResponse (the client stream is always at a frame boundary) and closes. */
  private fail(error: Omit<ErrorFields, 'severity'>, endedBy: EndedBy = 'gateway-error'): void {
    if (this.phase === 'closed') return;
    if (this.socket.writable) this.socket.end(serializeErrorResponse({ severity: 'FATAL', ...error }));
    this.teardown(error.message, endedBy);
  }

  private closeQuietly(): void {
    this.socket.end();
    this.teardown('cancel request handled');
  }

  private teardown(reason: string, endedBy: EndedBy = 'client'): void {
    if (this.phase === 'closed') return;
    this.recording.end(endedBy, reason);
    // A request still pending stays open: approved later, it can run once on a new connection.
    this.held?.abort?.abort();
    this.held = undefined;
    const wasRelaying = this.phase === 'relay';
    if (wasRelaying) this.deps.metrics.sessionClosed('postgres', this.connectionName);
    this.phase = 'closed';
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    if (this.backendKey) this.deps.cancels.release(this.backendKey.processId);
    const up = this.upstream;
    // A client that vanished may leave a statement running; the backend would only read
    // our Terminate after it finished, so cancel it first (a no-op when it is idle).
    if (wasRelaying && !this.clientTerminated && !this.targetSentFatal) this.cancelUpstream();
    if (up && !up.socket.destroyed) {
      if (up.socket.writable) {
        // The client's own Terminate was relayed already: a second one would reach a closed backend.
        if (this.clientTerminated) up.socket.end();
        else up.socket.end(serializeTerminate());
        // A target blocked writing a result to us (we paused reading for a slow client)
        // never reads the Terminate; closing the socket is what ends its backend.
        setTimeout(() => up.socket.destroy(), 1000).unref();
      } else up.socket.destroy();
    }
    if (!this.socket.destroyed) {
      // Let a final ErrorResponse flush, but never hang on a client that stopped reading.
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
    if (wasRelaying) this.log.info('session closed', { reason });
    this.socket.once('close', () => this.closedResolve());
    if (this.socket.destroyed) this.closedResolve();
  }
}

/** Client messages the gate decides or the session must see; the rest are relayed in runs. */
const DECIDED_FRONTEND_TYPES = frameTypeSet([
  Fe.Query,
  Fe.Parse,
  Fe.Bind,
  Fe.Execute,
  Fe.Sync,
  Fe.Close,
  Fe.FunctionCall,
  Fe.Terminate,
]);
/** What the relay always looks at (refusal rewriting, FATAL, settings, outcomes). */
const ALWAYS_INSPECTED = [
  Be.ErrorResponse,
  Be.ParameterStatus,
  Be.RowDescription,
  Be.CommandComplete,
  Be.EmptyQueryResponse,
  Be.PortalSuspended,
  Be.ReadyForQuery,
];
/** Without masking the rest are relayed in runs (result rows are counted in the run, not decoded). */
const INSPECTED_BACKEND_TYPES = frameTypeSet(ALWAYS_INSPECTED);
/** The replies that tell which columns rows have (the gateway's own Describe, COPY headers). */
const RESULT_SHAPE = [Be.NoData, Be.BindComplete, Be.CopyOutResponse, Be.CopyDone];
/** A session that only records rows tracks result shapes but lets rows run by unless it samples them. */
const TRACKED_BACKEND_TYPES = frameTypeSet([...ALWAYS_INSPECTED, ...RESULT_SHAPE]);
/** With masking, every message that carries data to the agent is also looked at one by one. */
const MASKED_BACKEND_TYPES = frameTypeSet([
  ...ALWAYS_INSPECTED,
  ...RESULT_SHAPE,
  Be.DataRow,
  Be.CopyData,
  Be.NoticeResponse,
  Be.NotificationResponse,
]);

const NO_PLANS: readonly StatementMaskPlan[] = Object.freeze([]);
/** Distinct statement texts whose mask plans a session keeps. */
const MASK_PLAN_CACHE_ENTRIES = 1_000;

/** One ValueMasker per policy: it holds compiled detectors and the hash key, nothing per session. */
const valueMaskers = new WeakMap<MaskingPolicy, ValueMasker>();
function valueMaskerFor(policy: MaskingPolicy): ValueMasker {
  let masker = valueMaskers.get(policy);
  if (masker === undefined) {
    masker = new ValueMasker({ detectors: policy.detectors, contentStrategy: policy.contentStrategy, hashKey: policy.hashKey });
    valueMaskers.set(policy, masker);
  }
  return masker;
}

/** A prepared statement as this session knows it: what it runs and the rule that allowed it. */
interface PreparedStatement {
  /** Facts for `EXECUTE name` (undefined for the unnamed statement, which SQL cannot name). */
  readonly facts: StatementFacts | undefined;
  readonly text: string;
  /** How a Bind executing it is decided (built once): held for approval if preparing it needed review, else allowed. */
  readonly executes: Decision;
  /** What masking does with its results (undefined without masking, and for SQL-level PREPARE). */
  readonly maskPlan: StatementMaskPlan | undefined;
}

/** What executing a statement prepared under `decision` is: held again with its values if it needed review, else allowed by the same rule. */
function executionDecision(decision: Decision): Decision {
  return decision.effect === 'review' ? decision : allowedExecution(decision.rule);
}

function allowedExecution(rule: string): Decision {
  return { effect: 'allow', rule, reason: 'executes a statement allowed when it was prepared' };
}

/** An approved access request admitting this session until `expiresAt`. */
type AccessGrant = NonNullable<ReturnType<ApprovalService['accessGrant']>>;

/** An operation between its decision and its forwarding (held while it waits for approval). */
type HeldOperation = (
  | { readonly kind: 'query'; readonly raw: Buffer; readonly plans: readonly StatementMaskPlan[] }
  | { readonly kind: 'bind'; readonly raw: Buffer; readonly portal: string; readonly maskPlan: StatementMaskPlan | undefined }
) & {
  readonly operation: Operation;
  readonly decision: Decision;
  /** Its recorded event. */
  readonly seq: number;
  readonly parameters: readonly RecordedParameter[] | undefined;
  readonly request?: ApprovalRequest;
  readonly abort?: AbortController;
};

function heldNotice(request: ApprovalRequest, timeoutMs: number): ErrorFields {
  return { severity: 'NOTICE', code: '01000', ...heldMessage(request, timeoutMs, 'statement') };
}

function unknownStatement(name: string): Decision {
  const which = name === '' ? 'the unnamed prepared statement' : `prepared statement "${name}"`;
  return {
    effect: 'deny',
    rule: 'protocol',
    reason: `${which} was not prepared (and allowed) through Portcullis in this session; send Parse for it first, then Bind`,
  };
}

/** Text-format values as text (when valid UTF-8), everything else as base64. */
function recordedParameter(value: Buffer | null, format: number): RecordedParameter {
  if (value === null) return null;
  if (format === 0 && isUtf8(value)) return value.toString('utf8');
  return { base64: value.toString('base64') };
}

const FUNCTION_CALL_REFUSED: Decision = {
  effect: 'deny',
  rule: 'protocol',
  reason:
    'the FunctionCall protocol message is not supported through Portcullis (it bypasses SQL inspection); ' +
    'call the function in a SELECT instead',
};

const INVALID_UTF8: Decision = {
  effect: 'deny',
  rule: 'invalid-encoding',
  reason: 'the statement text is not valid UTF-8, so it cannot be inspected; send UTF-8 (client_encoding is UTF8)',
};

function refusalError(decision: Decision, code: string): ErrorFields {
  return {
    severity: 'ERROR',
    code,
    message: `Portcullis: ${decision.reason}`,
    detail: `rule: ${decision.rule}`,
  };
}

const INSUFFICIENT_PRIVILEGE = '42501';
const INVALID_STATEMENT_NAME = '26000';

/** A refused message awaiting the target's error, and the SQLSTATE the client gets instead. */
interface Refusal {
  readonly decision: Decision;
  readonly code: string;
}

/** Re-throws a ProtocolError from `fn` with `context` (which message was malformed) prepended. */
function withContext<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ProtocolError && err.sqlState === '08P01') throw new ProtocolError(`${context}: ${err.message}`, err.sqlState);
    throw err;
  }
}

const FRONTEND_MESSAGE_NAMES = new Map<number, string>(Object.entries(Fe).map(([name, type]) => [type, name]));

function frontendMessageName(type: number): string {
  return FRONTEND_MESSAGE_NAMES.get(type) ?? `type 0x${type.toString(16)}`;
}

/** The settings statement inspection relies on, as the target reported them at startup. */
function unsafeSessionSettings(parameters: ReadonlyArray<readonly [string, string]>): string | undefined {
  const get = (name: string): string | undefined => parameters.find(([n]) => n === name)?.[1];
  const scs = get('standard_conforming_strings');
  if (scs !== 'on') return `standard_conforming_strings=${scs ?? '(not reported)'}`;
  const encoding = get('client_encoding');
  if (encoding === undefined || !isUtf8EncodingName(encoding)) return `client_encoding=${encoding ?? '(not reported)'}`;
  return undefined;
}

function isFatal(errorResponseBody: Buffer): boolean {
  const fields = parseErrorFields(errorResponseBody);
  const severity = fields.get('V') ?? fields.get('S');
  return severity === 'FATAL' || severity === 'PANIC';
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
