/**
 * One agent's SSH connection through the gateway: token authentication, the connection's
 * access list and access requests, then every command, shell and forward decided by the gate,
 * recorded before it reaches the target, and output masked on its way back. The target is
 * reached over the gateway's own SSH connection with credentials the agent never sees.
 */
import { randomBytes } from 'node:crypto';
import { finished } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import type ssh2 from 'ssh2';
import { approvalRefusal, approvalsUnavailable, heldMessage } from '../../approvals/held.js';
import { operationHash } from '../../approvals/binding.js';
import type { ApprovalRequest, ApprovalService } from '../../approvals/types.js';
import type { ReviewConfig, SshConnectionConfig, SshListenerConfig } from '../../config/types.js';
import { TokenError } from '../../identity/errors.js';
import type { Identity } from '../../identity/identity.js';
import type { ShellInspection } from '../../inspect/shell/facts.js';
import type { Logger } from '../../log.js';
import type { MaskingPolicies, MaskingPolicy } from '../../masking/policy.js';
import { StreamMasker, streamValueMasker } from '../../masking/stream-masker.js';
import type { GatewayMetrics } from '../../metrics/gateway-metrics.js';
import type { ConnectionRef, Decision, FileRequest, Gate, Operation } from '../../policy/operation.js';
import type { EndedBy, Recorder } from '../../recording/recorder.js';
import { RECORDING_UNAVAILABLE, SessionRecording } from '../../recording/session-recording.js';
import type { TokenVerifierLike } from '../postgres/session.js';
import { MaskedOutput } from './masked-output.js';
import { ShellLineChecker } from './shell-line-checker.js';
import { bridgeSftp } from './sftp-bridge.js';
import { ForwardedAgent } from './agent-forward.js';
import { connectTarget, SshUpstreamError } from './upstream.js';

export interface SshSessionDeps {
  readonly listener: SshListenerConfig;
  readonly verifier: TokenVerifierLike;
  readonly gate: Gate;
  readonly inspect: (commandLine: string) => ShellInspection;
  readonly connections: ReadonlyMap<string, SshConnectionConfig>;
  readonly recorder: Recorder;
  readonly metrics: GatewayMetrics;
  readonly approvals: ApprovalService | undefined;
  readonly masking: MaskingPolicies;
  readonly logger: Logger;
}

/** The exit status of a command the gateway refused to run (as a shell does for "cannot execute"). */
export const REFUSED_EXIT_STATUS = 126;
/** The exit status when the gateway could not run an allowed command (target unreachable…). */
const GATEWAY_ERROR_EXIT_STATUS = 255;
const MAX_TIMER_MS = 2 ** 31 - 1;

type PtyInfo = ssh2.PseudoTtyInfo;

export class SshSession {
  readonly id = randomBytes(8).toString('hex');
  readonly closed: Promise<void>;
  private readonly log: Logger;
  private readonly recording: SessionRecording;
  private identity: Identity | undefined;
  private connection: SshConnectionConfig | undefined;
  private connectionRef: ConnectionRef | undefined;
  private masking: MaskingPolicy | undefined;
  private upstream: Promise<ssh2.Client> | undefined;
  private upstreamClient: ssh2.Client | undefined;
  private authTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private ending: { endedBy: EndedBy; reason: string } | undefined;
  private readonly waits = new Set<AbortController>();
  private readonly channels = new Set<ssh2.ServerChannel>();
  private opened = false;

  constructor(
    private readonly conn: ssh2.Connection,
    private readonly clientAddress: string,
    private readonly deps: SshSessionDeps,
  ) {
    this.log = deps.logger.child({ session: this.id });
    this.recording = new SessionRecording(deps.recorder, this.id, this.log, 'ssh');
    this.closed = new Promise((resolve) => conn.once('close', () => resolve()));
    void this.closed.then(() => this.onClosed());
    this.authTimer = setTimeout(() => {
      this.log.info('authentication timed out');
      conn.end();
    }, deps.listener.authTimeoutMs);
    conn.on('error', (err) => this.log.info('client connection error', { error: err.message }));
    conn.on('authentication', (ctx) => this.onAuthentication(ctx));
    conn.on('ready', () => this.onReady());
  }

  /** Is this session an open one of that identity on that connection? */
  isSessionOf(subject: string, clientId: string | undefined, connection: string): boolean {
    return this.opened && this.identity?.subject === subject && this.identity.clientId === clientId && this.connection?.name === connection;
  }

  /** Ends the session, telling every open channel why on stderr. */
  terminate(reason: string, endedBy: EndedBy = 'shutdown'): void {
    this.ending ??= { endedBy, reason };
    for (const channel of this.channels) {
      try {
        channel.stderr.write(`portcullis: ${reason}\r\n`);
        channel.exit(GATEWAY_ERROR_EXIT_STATUS);
        channel.end();
      } catch {
        // The channel is already gone.
      }
    }
    this.conn.end();
  }

  // ------------------------------------------------------------------ authentication

  private onAuthentication(ctx: ssh2.AuthContext): void {
    if (ctx.method === 'password') return void this.authenticate(ctx, ctx.password);
    if (ctx.method === 'keyboard-interactive') {
      return ctx.prompt([{ prompt: 'OIDC access token: ', echo: false }], 'Portcullis', 'Paste a short-lived OIDC access token.', (answers) => {
        void this.authenticate(ctx, answers[0] ?? '');
      });
    }
    // Keys, host-based and "none": the gateway knows agents only by their tokens.
    ctx.reject(['password', 'keyboard-interactive']);
  }

  private async authenticate(ctx: ssh2.AuthContext, token: string): Promise<void> {
    const connectionName = ctx.username;
    const refuse = (reason: string, metric: 'invalid-token' | 'access-denied' | 'unknown-connection', subject?: string): void => {
      this.log.info('authentication refused', { connection: connectionName, reason });
      this.recording.authFailure(this.clientAddress, connectionName, reason, subject);
      this.deps.metrics.authFailure('ssh', metric);
      ctx.reject(['password', 'keyboard-interactive']);
    };
    let identity: Identity;
    try {
      identity = await this.deps.verifier.verify(token.trim());
    } catch (err) {
      return refuse(`invalid access token: ${err instanceof TokenError ? err.message : 'the token could not be verified'}`, 'invalid-token');
    }
    const connection = this.deps.connections.get(connectionName);
    if (connection === undefined) return refuse(`connection "${connectionName}" does not exist`, 'unknown-connection', identity.subject);
    const ref = { name: connection.name, type: connection.type };
    const decision = this.deps.gate(identity, { kind: 'session', connection: ref, text: '', via: 'ssh-auth' });
    if (decision.effect !== 'allow') return refuse(`access refused by rule ${decision.rule}`, 'access-denied', identity.subject);
    let accessEnds: number | undefined;
    if (connection.access.requireApproval !== undefined) {
      let grant;
      try {
        grant = this.deps.approvals?.accessGrant(identity.subject, identity.clientId, connection.name);
      } catch (err) {
        this.log.error('could not read access grants; refusing the session', { error: err });
        return refuse('access grants could not be read', 'access-denied', identity.subject);
      }
      if (grant === undefined) return refuse('no approved access request', 'access-denied', identity.subject);
      accessEnds = grant.expiresAt;
    }
    this.identity = identity;
    this.connection = connection;
    this.connectionRef = ref;
    try {
      this.masking = this.deps.masking.forIdentity(connection, identity);
      this.recording.start(connection.name, identity, this.clientAddress, true);
    } catch (err) {
      this.log.error('recording unavailable; refusing the session', { error: err });
      return refuse('the session could not be recorded', 'access-denied', identity.subject);
    }
    clearTimeout(this.authTimer);
    this.armExpiry(identity, accessEnds);
    ctx.accept();
  }

  private armExpiry(identity: Identity, accessEnds: number | undefined): void {
    const tokenEnds = identity.expiresAt + this.deps.listener.tokenExpiryGraceMs;
    const byAccess = accessEnds !== undefined && accessEnds < tokenEnds;
    const ends = byAccess ? accessEnds : tokenEnds;
    this.expiryTimer = setTimeout(
      () => {
        if (byAccess) {
          this.terminate(`access to connection "${this.connection?.name}" granted by an access request ended; ask for access again with portcullis access request`, 'access-expiry');
        } else {
          this.terminate(`access token expired at ${new Date(identity.expiresAt).toISOString()}; obtain a new token and reconnect`, 'token-expiry');
        }
      },
      Math.max(0, Math.min(ends - Date.now(), MAX_TIMER_MS)),
    );
  }

  private onReady(): void {
    const connection = this.connection!;
    this.opened = true;
    this.deps.metrics.sessionOpened('ssh', connection.name);
    this.log.info('session opened', { connection: connection.name, subject: this.identity?.subject, clientId: this.identity?.clientId });
    this.conn.on('session', (accept) => this.onSessionChannel(accept()));
    this.conn.on('tcpip', (accept, reject, info) => this.onDirectTcpip(accept, reject, info));
    this.conn.on('request', (accept, reject, name, info) => this.onGlobalRequest(accept, reject, name, info));
  }

  /**
   * Remote forwarding (`ssh -R`): the target listens on the agent's behalf and its connections
   * come back to the agent — decided like any forward. Unix-socket forwarding is not offered.
   */
  private onGlobalRequest(accept: ((port?: number) => void) | undefined, reject: (() => void) | undefined, name: string, info: unknown): void {
    if ((name !== 'tcpip-forward' && name !== 'cancel-tcpip-forward') || typeof info !== 'object' || info === null || !('bindAddr' in info)) {
      return reject?.();
    }
    const { bindAddr, bindPort } = info as ssh2.TcpipBindInfo;
    if (name === 'cancel-tcpip-forward') {
      if (this.upstreamClient === undefined) return reject?.();
      return void this.upstreamClient.unforwardIn(bindAddr, bindPort, (err) => (err ? reject?.() : accept?.()));
    }
    const operation: Operation = { kind: 'ssh', connection: this.connectionRef!, text: `remote ${bindAddr}:${bindPort}`, via: name, action: 'port_forward' };
    const decision = this.decide(operation);
    const seq = this.recording.operation(operation, decision);
    if (seq === undefined || decision.effect !== 'allow') return reject?.();
    this.deps.recorder.whenDurable((durable) => {
      if (!durable) return reject?.();
      this.target().then(
        (client) => client.forwardIn(bindAddr, bindPort, (err, port) => (err ? reject?.() : accept?.(port))),
        () => reject?.(),
      );
    });
  }

  /** A connection to a port the target listens on for the agent (`ssh -R`): relayed to the agent. */
  private onForwardedConnection(info: ssh2.TcpConnectionDetails, accept: () => ssh2.ClientChannel, reject: () => void): void {
    this.conn.forwardOut(info.destIP, info.destPort, info.srcIP, info.srcPort, (err, agent) => {
      if (err) return reject();
      const target = accept();
      agent.pipe(target).pipe(agent);
    });
  }

  // ------------------------------------------------------------------ sessions (exec, shell)

  private onSessionChannel(session: ssh2.Session): void {
    let pty: PtyInfo | undefined;
    let started = false;
    let agentForward = false;
    const resizes: Array<(rows: number, cols: number, height: number, width: number) => void> = [];
    session.on('pty', (accept, _reject, info) => {
      pty = info;
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      accept?.();
      for (const resize of resizes) resize(info.rows, info.cols, info.height, info.width);
    });
    // The agent's environment could change what the command does (LD_PRELOAD, PATH…): not passed on.
    session.on('env', (_accept, reject) => reject?.());
    session.on('auth-agent', (accept, reject) => {
      const operation: Operation = { kind: 'ssh', connection: this.connectionRef!, text: '', via: 'auth-agent-req', action: 'agent_forward' };
      const decision = this.decide(operation);
      const seq = this.recording.operation(operation, decision);
      // Asked for before the command or shell it serves, which carries it on to the target.
      if (seq === undefined || decision.effect !== 'allow') return reject?.();
      agentForward = true;
      accept?.();
    });
    session.on('x11', (_accept, reject) => {
      this.refuseAction('x11', '', 'x11-req');
      reject?.();
    });
    session.on('sftp', (accept, reject) => {
      if (started) return reject?.();
      started = true;
      this.onSftp(accept, reject);
    });
    session.on('subsystem', (_accept, reject, info) => {
      this.log.info('subsystem refused', { name: info.name });
      reject?.();
    });
    session.on('exec', (accept, reject, info) => {
      if (started) return reject?.();
      started = true;
      const channel = accept();
      this.track(channel);
      this.onExec(channel, info.command, pty, resizes, agentForward);
    });
    session.on('shell', (accept, reject) => {
      if (started) return reject?.();
      started = true;
      const channel = accept();
      this.track(channel);
      this.onShell(channel, pty, resizes, agentForward);
    });
  }

  private track(channel: ssh2.ServerChannel): void {
    this.channels.add(channel);
    channel.on('close', () => this.channels.delete(channel));
    channel.on('error', (err: Error) => this.log.info('channel error', { error: err.message }));
  }

  /** Refuses X11 forwarding, recorded with the gate's reason (or `unsupported` when a rule would allow it). */
  private refuseAction(action: 'x11', text: string, via: string): void {
    const operation: Operation = { kind: 'ssh', connection: this.connectionRef!, text, via, action };
    let decision = this.decide(operation);
    if (decision.effect !== 'deny') decision = { effect: 'deny', rule: 'unsupported', reason: `${action} is not offered through this gateway.` };
    this.recording.operation(operation, decision);
  }

  /**
   * The SFTP subsystem (also what scp uses): itself an operation, then bridged request by
   * request, each decided and recorded (sftp-bridge.ts). A refusal cannot carry words in
   * SFTP's subsystem request: it is recorded and logged with the rule's reason.
   */
  private onSftp(accept: () => ssh2.SFTPWrapper, reject: (() => void) | undefined): void {
    const operation: Operation = { kind: 'ssh', connection: this.connectionRef!, text: 'sftp', via: 'subsystem', action: 'sftp' };
    let decision = this.decide(operation);
    if (decision.effect === 'review') {
      decision = { ...decision, effect: 'deny', reason: `${decision.reason} An SFTP session cannot be held for approval as a whole; ask for a rule that allows SFTP.` };
    }
    const seq = this.recording.operation(operation, decision);
    if (seq === undefined || decision.effect !== 'allow') return reject?.();
    // Accepted at once: OpenSSH's clients send SFTP's first packet without waiting for the
    // reply to the subsystem request, and ssh2 drops channel data that comes before accept().
    // The bridge holds the agent's requests until the target's SFTP session is open, which is
    // only once the decision is durable (invariant 2).
    const agent = accept();
    const started = Date.now();
    const target = new Promise<ssh2.SFTPWrapper>((resolve, fail) => {
      this.deps.recorder.whenDurable((durable) => {
        if (!durable) return fail(new Error('the SFTP session could not be recorded'));
        this.target().then((client) => client.sftp((err, sftp) => (err ? fail(err) : resolve(sftp))), fail);
      });
    });
    void bridgeSftp(agent, target, { authorize: (request, signal) => this.authorize(request, signal), log: this.log }).finally(() => {
      this.recording.outcome({ operationSeq: seq, command: 'sftp closed', durationMs: Date.now() - started });
    });
  }

  private decide(operation: Operation): Decision {
    const decision = this.deps.gate(this.identity!, operation);
    this.deps.metrics.operationDecided('ssh', this.connectionRef!.name, decision.effect);
    if (decision.effect !== 'allow') this.log.info('operation refused', { kind: operation.kind, via: operation.via, rule: decision.rule });
    return decision;
  }

  private onExec(channel: ssh2.ServerChannel, command: string, pty: PtyInfo | undefined, resizes: ResizeList, agentForward: boolean): void {
    const operation: Operation = {
      kind: 'shell',
      connection: this.connectionRef!,
      text: command,
      via: 'exec',
      shell: this.deps.inspect(command),
    };
    const decision = this.decide(operation);
    const seq = this.recording.operation(operation, decision);
    const eol = pty === undefined ? '\n' : '\r\n';
    if (seq === undefined) return this.refuse(channel, RECORDING_UNAVAILABLE, eol);
    if (decision.effect === 'deny') return this.refuse(channel, decision, eol, seq);
    const run = (): void => this.afterDurable(channel, eol, () => this.runExec(channel, command, pty, resizes, seq, agentForward));
    if (decision.effect === 'allow') return run();
    this.hold(channel, operation, decision, seq, eol, run);
  }

  /** Invariant 2: the operation's event is durable before anything reaches the target. */
  private afterDurable(channel: ssh2.ServerChannel, eol: string, run: () => void): void {
    this.deps.recorder.whenDurable((durable) => (durable ? run() : this.refuse(channel, RECORDING_UNAVAILABLE, eol)));
  }

  /** Tells the agent why on stderr, exit status 126; recorded as what its terminal showed when the operation was. */
  private refuse(channel: ssh2.ServerChannel, decision: Decision, eol: string, seq?: number): void {
    const message = `portcullis: ${decision.reason} [rule: ${decision.rule}]${eol}`;
    if (seq !== undefined) {
      this.recording.terminal(seq, 'o', message);
      this.recording.terminal(seq, 'x', String(REFUSED_EXIT_STATUS));
    }
    try {
      channel.stderr.write(message);
      channel.exit(REFUSED_EXIT_STATUS);
      channel.end();
    } catch {
      // The agent already went away.
    }
  }

  // ------------------------------------------------------------------ approvals

  /** Holds a command for approval, telling the agent on stderr; runs it once approved, else refuses it. */
  private hold(channel: ssh2.ServerChannel, operation: Operation, decision: Decision, seq: number, eol: string, run: () => void): void {
    const abort = new AbortController();
    channel.once('close', () => abort.abort());
    const told = (request: ApprovalRequest, timeoutMs: number): void => {
      const held = heldMessage(request, timeoutMs, 'command');
      channel.stderr.write(`${held.message}.${eol}portcullis: ${held.detail}${eol}portcullis: ${held.hint}${eol}`);
    };
    void this.approval(operation, decision, seq, abort.signal, told).then((outcome) => {
      if (outcome === 'approved') run();
      else if (outcome !== 'aborted') this.refuse(channel, outcome, eol, seq);
    });
  }

  /**
   * An operation the gate sent to review: released by an earlier approval, or held until an
   * approver decides (`told` hears of the new request first). Resolves `approved`, `aborted`
   * (the agent went away), or the refusal to give the agent; never rejects.
   */
  private async approval(
    operation: Operation,
    decision: Decision,
    seq: number,
    signal: AbortSignal,
    told: (request: ApprovalRequest, timeoutMs: number) => void,
  ): Promise<'approved' | 'aborted' | Decision> {
    const approvals = this.deps.approvals;
    const review: ReviewConfig | undefined = this.connection!.rules.find((r) => r.name === decision.rule)?.review;
    if (approvals === undefined || review === undefined) return approvalsUnavailable(decision);
    const identity = this.identity!;
    const binding = {
      subject: identity.subject,
      clientId: identity.clientId,
      connection: this.connection!.name,
      rule: decision.rule,
      operationHash: operationHash(operation.text, undefined),
    };
    let request: ApprovalRequest;
    try {
      const granted = approvals.redeem(binding);
      if (granted !== undefined) {
        this.log.info('held operation released by an earlier approval', { request: granted.id, rule: binding.rule });
        return 'approved';
      }
      request = approvals.request({ ...binding, groups: identity.groups, text: operation.text, parameters: undefined, sessionId: this.id, reason: decision.reason, review });
    } catch (err) {
      this.log.error('could not create an approval request; refusing the operation', { error: err });
      return approvalsUnavailable(decision);
    }
    told(request, review.timeoutMs);
    this.log.info('operation held for approval', { request: request.id, rule: binding.rule });
    const abort = new AbortController();
    const onAbort = (): void => abort.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.waits.add(abort);
    try {
      const decided = await approvals.wait(request.id, abort.signal);
      if (abort.signal.aborted || decided.status === 'pending') return 'aborted';
      if (decided.status === 'approved' && this.redeem(decided)) {
        this.log.info('held operation approved; running it', { request: decided.id });
        return 'approved';
      }
      const refusal = approvalRefusal(decision, decided);
      this.recording.outcome({ operationSeq: seq, durationMs: Math.max(0, Date.now() - decided.createdAt), error: { code: 'refused', message: refusal.reason } });
      return refusal;
    } catch (err) {
      this.log.error('waiting for an approval failed; refusing the operation', { error: err });
      return approvalsUnavailable(decision);
    } finally {
      this.waits.delete(abort);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * One SFTP request, decided, recorded (durably) and, under review, held until an approver
   * decides — the agent's SFTP client simply waits. Resolves with the refusal's reason, or
   * undefined when the request may go to the target.
   */
  private async authorize(request: FileRequest, signal: AbortSignal): Promise<string | undefined> {
    const text = `${request.action} ${request.path}${request.target === undefined ? '' : ` -> ${request.target}`}`;
    const operation: Operation = { kind: 'file', connection: this.connectionRef!, text, via: 'sftp', file: request };
    const decision = this.decide(operation);
    const seq = this.recording.operation(operation, decision);
    if (seq === undefined) return `${RECORDING_UNAVAILABLE.reason} [rule: ${RECORDING_UNAVAILABLE.rule}]`;
    if (decision.effect === 'deny') return `${decision.reason} [rule: ${decision.rule}]`;
    if (decision.effect === 'review') {
      const outcome = await this.approval(operation, decision, seq, signal, () => undefined);
      if (outcome === 'aborted') return 'the SFTP session ended while the request waited for approval';
      if (outcome !== 'approved') return `${outcome.reason} [rule: ${outcome.rule}]`;
    }
    const durable = await new Promise<boolean>((resolve) => this.deps.recorder.whenDurable(resolve));
    return durable ? undefined : `${RECORDING_UNAVAILABLE.reason} [rule: ${RECORDING_UNAVAILABLE.rule}]`;
  }

  private redeem(request: ApprovalRequest): boolean {
    try {
      this.deps.approvals!.markRedeemed(request.id);
      return true;
    } catch (err) {
      this.log.warn('approved grant could not be used; refusing the held command', { request: request.id, error: err });
      return false;
    }
  }

  // ------------------------------------------------------------------ running on the target

  private target(): Promise<ssh2.Client> {
    this.upstream ??= connectTarget(this.connection!.target, new ForwardedAgent(this.conn)).then((client) => {
      this.upstreamClient = client;
      // Only ports this session asked the target to listen on (and the gate allowed) come here.
      client.on('tcp connection', (info, accept, reject) => this.onForwardedConnection(info, accept, reject));
      client.on('close', () => {
        if (this.ending === undefined) this.terminate(`the connection to the target of "${this.connection?.name}" closed`, 'upstream');
      });
      return client;
    });
    return this.upstream;
  }

  /** Tells the agent why the target could not be reached (once per channel); a configuration problem is logged loudly. */
  private targetFailed(channel: ssh2.ServerChannel, err: unknown, eol: string): void {
    const e = err instanceof SshUpstreamError ? err : new SshUpstreamError('unreachable', String(err));
    const name = this.connection!.name;
    if (e.kind === 'host-key') this.log.error('TARGET HOST KEY MISMATCH: refusing to connect', { connection: name, detail: e.message });
    else this.log.warn('target connection failed', { connection: name, kind: e.kind, detail: e.message });
    const message =
      e.kind === 'unreachable'
        ? `could not connect to the target of connection "${name}": ${e.message}; retry later`
        : `could not connect to the target of connection "${name}": ${e.message}; this is a gateway configuration problem — report it to a Portcullis administrator`;
    try {
      channel.stderr.write(`portcullis: ${message}${eol}`);
      channel.exit(GATEWAY_ERROR_EXIT_STATUS);
      channel.end();
    } catch {
      // The agent already went away.
    }
  }

  private outputs(channel: ssh2.ServerChannel, upstream: ssh2.ClientChannel, seq: number): { out: MaskedOutput; err: MaskedOutput } {
    const masker = (): StreamMasker | undefined => (this.masking === undefined ? undefined : new StreamMasker(streamValueMasker(this.masking)));
    const flushMs = this.deps.listener.outputFlushMs;
    const out = new MaskedOutput(masker(), flushMs, this.terminalTap(seq, 'o'));
    const err = new MaskedOutput(masker(), flushMs, this.terminalTap(seq, 'o'));
    upstream.pipe(out).pipe(channel, { end: false });
    upstream.stderr.pipe(err).pipe(channel.stderr, { end: false });
    return { out, err };
  }

  private runExec(channel: ssh2.ServerChannel, command: string, pty: PtyInfo | undefined, resizes: ResizeList, seq: number, agentForward: boolean): void {
    const eol = pty === undefined ? '\n' : '\r\n';
    const started = Date.now();
    this.target().then(
      (client) => {
        const options: ssh2.ExecOptions & { agentForward?: boolean } = {
          ...(pty === undefined ? {} : { pty: { term: pty.term, rows: pty.rows, cols: pty.cols, height: pty.height, width: pty.width } }),
          ...(agentForward ? { agentForward: true } : {}),
        };
        client.exec(command, options, (err, upstream) => {
          if (err) return this.targetFailed(channel, err, eol);
          this.relay(channel, upstream, pty, resizes, seq, started);
        });
      },
      (err: unknown) => this.targetFailed(channel, err, eol),
    );
  }

  /** Records a stream's bytes as terminal data, decoded as one UTF-8 stream (characters split across chunks stay whole). */
  private terminalTap(seq: number, code: 'o' | 'i'): (chunk: Buffer) => void {
    const decoder = new StringDecoder('utf8');
    return (chunk) => {
      const text = decoder.write(chunk);
      if (text !== '') this.recording.terminal(seq, code, text);
    };
  }

  /** Pipes a started command or shell both ways until it exits; then passes its exit status on and records the outcome. */
  private relay(
    channel: ssh2.ServerChannel,
    upstream: ssh2.ClientChannel,
    pty: PtyInfo | undefined,
    resizes: ResizeList,
    seq: number,
    started: number,
    input?: (chunk: Buffer) => Buffer | undefined,
  ): void {
    const { out, err } = this.outputs(channel, upstream, seq);
    if (pty !== undefined) this.recording.terminal(seq, 'r', `${pty.cols}x${pty.rows}`);
    resizes.push((rows, cols, height, width) => {
      this.recording.terminal(seq, 'r', `${cols}x${rows}`);
      upstream.setWindow(rows, cols, height, width);
    });
    channel.on('data', this.terminalTap(seq, 'i'));
    if (input === undefined) channel.pipe(upstream);
    else {
      channel.on('data', (chunk: Buffer) => {
        const forwarded = input(chunk);
        if (forwarded !== undefined && forwarded.length > 0) upstream.write(forwarded);
      });
      channel.on('end', () => upstream.end());
    }
    channel.on('close', () => upstream.close());
    let exit: { code: number } | { signal: string } = { code: GATEWAY_ERROR_EXIT_STATUS };
    upstream.on('exit', (code: number | null, signal?: string) => {
      exit = code === null ? { signal: signal ?? 'KILL' } : { code };
    });
    // The exit status may come after the output's end: wait for the channel to close too.
    const upstreamClosed = new Promise<void>((resolve) => upstream.once('close', () => resolve()));
    void Promise.all([finished(out), finished(err), upstreamClosed]).then(
      () => this.exited(channel, exit, seq, started, out.bytes + err.bytes),
      () => this.exited(channel, exit, seq, started, out.bytes + err.bytes),
    );
  }

  private exited(channel: ssh2.ServerChannel, exit: { code: number } | { signal: string }, seq: number, started: number, bytes: number): void {
    const durationMs = Date.now() - started;
    this.recording.terminal(seq, 'x', 'code' in exit ? String(exit.code) : exit.signal);
    this.recording.outcome({ operationSeq: seq, command: 'code' in exit ? `exit ${exit.code}` : `signal ${exit.signal}`, bytes, durationMs });
    this.deps.metrics.operationCompleted('ssh', this.connectionRef!.name, durationMs / 1000);
    try {
      if ('code' in exit) channel.exit(exit.code);
      else channel.exit(exit.signal.replace(/^SIG/, ''));
      channel.end();
    } catch {
      // The agent already went away.
    }
  }

  private onShell(channel: ssh2.ServerChannel, pty: PtyInfo | undefined, resizes: ResizeList, agentForward: boolean): void {
    const operation: Operation = { kind: 'ssh', connection: this.connectionRef!, text: pty?.term ?? '', via: 'shell', action: 'shell' };
    const decision = this.decide(operation);
    const seq = this.recording.operation(operation, decision);
    const eol = '\r\n';
    if (seq === undefined) return this.refuse(channel, RECORDING_UNAVAILABLE, eol);
    if (decision.effect === 'deny') return this.refuse(channel, decision, eol, seq);
    const run = (): void =>
      this.afterDurable(channel, eol, () => {
        const started = Date.now();
        this.target().then(
          (client) => {
            const window = pty === undefined ? false : { term: pty.term, rows: pty.rows, cols: pty.cols, height: pty.height, width: pty.width };
            client.shell(window, agentForward ? ({ agentForward: true } as ssh2.ShellOptions) : {}, (err, upstream) => {
              if (err) return this.targetFailed(channel, err, eol);
              const lines = new ShellLineChecker((line) => this.checkShellLine(channel, line, seq));
              this.relay(channel, upstream, pty, resizes, seq, started, (chunk) => lines.input(chunk));
            });
          },
          (err: unknown) => this.targetFailed(channel, err, eol),
        );
      });
    if (decision.effect === 'allow') return run();
    this.hold(channel, operation, decision, seq, eol, run);
  }

  /**
   * A line submitted in an interactive shell, as far as the gateway can reconstruct it from
   * keystrokes: recorded, and refused (not submitted) when the gate denies or would hold it.
   * Defence in depth only: line editing, history and completion happen on the target.
   */
  private checkShellLine(channel: ssh2.ServerChannel, line: string, shellSeq: number): boolean {
    const operation: Operation = { kind: 'shell', connection: this.connectionRef!, text: line, via: 'shell-line', shell: this.deps.inspect(line) };
    const decision = this.decide(operation);
    const seq = this.recording.operation(operation, decision);
    if (seq !== undefined && decision.effect === 'allow') return true;
    const refusal: Decision =
      seq === undefined
        ? RECORDING_UNAVAILABLE
        : decision.effect === 'review'
          ? { ...decision, reason: `${decision.reason} Commands that need approval cannot be held inside an interactive shell: run it as a single command (ssh … '<command>') to ask for approval.` }
          : decision;
    const message = `\r\nportcullis: ${refusal.reason} [rule: ${refusal.rule}]\r\n`;
    this.recording.terminal(shellSeq, 'o', message);
    channel.write(message);
    return false;
  }

  // ------------------------------------------------------------------ forwarding

  private onDirectTcpip(accept: () => ssh2.ServerChannel, reject: () => void, info: ssh2.TcpipRequestInfo): void {
    const text = `${info.destIP}:${info.destPort}`;
    const operation: Operation = { kind: 'ssh', connection: this.connectionRef!, text, via: 'direct-tcpip', action: 'port_forward' };
    const decision = this.decide(operation);
    const seq = this.recording.operation(operation, decision);
    if (seq === undefined || decision.effect !== 'allow') return reject();
    this.deps.recorder.whenDurable((durable) => {
      if (!durable) return reject();
      this.target().then(
        (client) =>
          client.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (err, upstream) => {
            if (err) return reject();
            const channel = accept();
            this.track(channel);
            channel.pipe(upstream).pipe(channel);
          }),
        () => reject(),
      );
    });
  }

  // ------------------------------------------------------------------ end

  private onClosed(): void {
    clearTimeout(this.authTimer);
    clearTimeout(this.expiryTimer);
    for (const wait of this.waits) wait.abort();
    this.upstreamClient?.end();
    if (this.upstream !== undefined && this.upstreamClient === undefined) void this.upstream.then((client) => client.end(), () => undefined);
    if (this.opened) {
      this.deps.metrics.sessionClosed('ssh', this.connection!.name);
      const ending = this.ending ?? { endedBy: 'client' as const, reason: 'the client disconnected' };
      this.recording.end(ending.endedBy, ending.reason);
      this.log.info('session closed', { endedBy: ending.endedBy });
    }
  }
}

type ResizeList = Array<(rows: number, cols: number, height: number, width: number) => void>;
