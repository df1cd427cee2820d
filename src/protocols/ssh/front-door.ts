/**
 * The SSH listener: accepts connections with the gateway's host key, hands each to an
 * SshSession, and ends them all on shutdown. No policy here.
 */
import type net from 'node:net';
import ssh2 from 'ssh2';
import type { ApprovalService } from '../../approvals/types.js';
import type { SshConnectionConfig, SshListenerConfig } from '../../config/types.js';
import type { ShellInspection } from '../../inspect/shell/facts.js';
import type { Logger } from '../../log.js';
import { MaskingPolicies } from '../../masking/policy.js';
import { noopMetrics, type GatewayMetrics } from '../../metrics/gateway-metrics.js';
import type { Gate } from '../../policy/operation.js';
import type { EndedBy, Recorder } from '../../recording/recorder.js';
import type { TokenVerifierLike } from '../postgres/session.js';
import type { HostKey } from './host-key.js';
import { SshSession } from './session.js';
import { LISTEN_BACKLOG } from '../listen-backlog.js';

export interface SshFrontDoorOptions {
  readonly listener: SshListenerConfig;
  readonly hostKey: HostKey;
  readonly connections: readonly SshConnectionConfig[];
  readonly verifier: TokenVerifierLike;
  readonly gate: Gate;
  readonly inspect: (commandLine: string) => ShellInspection;
  readonly recorder: Recorder;
  readonly metrics?: GatewayMetrics;
  readonly approvals?: ApprovalService;
  readonly masking?: MaskingPolicies;
  readonly logger: Logger;
}

export class SshFrontDoor {
  private readonly server: ssh2.Server;
  private readonly sessions = new Set<SshSession>();

  constructor(private readonly options: SshFrontDoorOptions) {
    const deps = {
      listener: options.listener,
      verifier: options.verifier,
      gate: options.gate,
      inspect: options.inspect,
      connections: new Map(options.connections.map((c) => [c.name, c])),
      recorder: options.recorder,
      metrics: options.metrics ?? noopMetrics,
      approvals: options.approvals,
      masking: options.masking ?? new MaskingPolicies(),
      logger: options.logger,
    };
    this.server = new ssh2.Server({ hostKeys: [options.hostKey.privateKey], ident: 'Portcullis' }, (conn, info) => {
      const session = new SshSession(conn, info.ip, deps);
      this.sessions.add(session);
      void session.closed.then(() => this.sessions.delete(session));
    });
    this.server.on('error', (err: Error) => options.logger.error('ssh listener error', { error: err }));
  }

  /** Resolves with the bound address (port 0 picks a free port). */
  listen(): Promise<net.AddressInfo> {
    const { host, port } = this.options.listener;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        this.server.off('error', reject);
        const address = this.server.address() as net.AddressInfo;
        this.options.logger.info('ssh front door listening', { host: address.address, port: address.port, hostKey: this.options.hostKey.fingerprint });
        resolve(address);
      });
    });
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Ends the open sessions of an identity on a connection (e.g. its access request was revoked); returns how many. */
  endSessionsOf(subject: string, clientId: string | undefined, connection: string, reason: string, endedBy: EndedBy): number {
    let ended = 0;
    for (const session of this.sessions) {
      if (!session.isSessionOf(subject, clientId, connection)) continue;
      session.terminate(reason, endedBy);
      ended++;
    }
    return ended;
  }

  async close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.terminate('Portcullis is shutting down; reconnect shortly');
    await Promise.all([...this.sessions].map((s) => s.closed));
    await stopped;
  }
}
