/**
 * The PostgreSQL listener: accepts sockets, hands each to a PostgresSession, and ends
 * them all cleanly on shutdown. No policy here.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { PostgresConnectionConfig, PostgresListenerConfig } from '../../config/types.js';
import type { Logger } from '../../log.js';
import type { SqlInspector } from '../../inspect/sql-inspector.js';
import type { Gate } from '../../policy/operation.js';
import type { EndedBy, Recorder } from '../../recording/recorder.js';
import { noopMetrics, type GatewayMetrics } from '../../metrics/gateway-metrics.js';
import type { ApprovalService } from '../../approvals/types.js';
import { CancelRegistry } from './cancel-registry.js';
import { PostgresSession, type SessionMaskingDeps, type TokenVerifierLike } from './session.js';
import { LISTEN_BACKLOG } from '../listen-backlog.js';

export interface PostgresFrontDoorOptions {
  readonly listener: PostgresListenerConfig;
  readonly connections: readonly PostgresConnectionConfig[];
  readonly verifier: TokenVerifierLike;
  readonly gate: Gate;
  readonly inspect: SqlInspector;
  readonly recorder: Recorder;
  /** Default: nothing is reported. */
  readonly metrics?: GatewayMetrics;
  /** Holds operations the gate sends to review; without it they are refused. */
  readonly approvals?: ApprovalService;
  /** Masking policies and the targets' catalogs. */
  readonly masking: SessionMaskingDeps;
  readonly logger: Logger;
}

export class PostgresFrontDoor {
  private readonly server: net.Server;
  private readonly sessions = new Set<PostgresSession>();
  private readonly cancels = new CancelRegistry();

  constructor(private readonly options: PostgresFrontDoorOptions) {
    const { listener } = options;
    const secureContext =
      listener.tls.mode !== 'disable' && listener.tls.cert && listener.tls.key
        ? tls.createSecureContext({ cert: listener.tls.cert, key: listener.tls.key, minVersion: 'TLSv1.2' })
        : undefined;
    const deps = {
      listener,
      secureContext,
      verifier: options.verifier,
      gate: options.gate,
      inspect: options.inspect,
      recorder: options.recorder,
      metrics: options.metrics ?? noopMetrics,
      approvals: options.approvals,
      masking: options.masking,
      connections: new Map(options.connections.map((c) => [c.name, c])),
      cancels: this.cancels,
      logger: options.logger,
    };
    this.server = net.createServer((socket) => {
      const session = new PostgresSession(socket, deps);
      this.sessions.add(session);
      void session.closed.then(() => this.sessions.delete(session));
    });
    this.server.on('error', (err) => options.logger.error('postgres listener error', { error: err }));
  }

  /** Resolves with the bound address (port 0 picks a free port). */
  listen(): Promise<net.AddressInfo> {
    const { host, port } = this.options.listener;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, backlog: LISTEN_BACKLOG }, () => {
        this.server.off('error', reject);
        const address = this.server.address() as net.AddressInfo;
        this.options.logger.info('postgres front door listening', { host: address.address, port: address.port });
        resolve(address);
      });
    });
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /**
   * Ends the relaying sessions of an identity on a connection with a FATAL the client can read
   * (e.g. when the access request that admitted them is revoked); returns how many.
   */
  endSessionsOf(subject: string, clientId: string | undefined, connection: string, code: string, message: string, endedBy: EndedBy): number {
    let ended = 0;
    for (const session of this.sessions) {
      if (!session.isSessionOf(subject, clientId, connection)) continue;
      session.terminate(code, message, endedBy);
      ended++;
    }
    return ended;
  }

  /** Stop accepting, end every session with a FATAL the client can read, wait for them. */
  async close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions) s.terminate('57P01', 'Portcullis is shutting down; reconnect shortly');
    await Promise.all([...this.sessions].map((s) => s.closed));
    await stopped;
  }
}
