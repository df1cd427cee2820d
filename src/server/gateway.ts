/**
 * Composes a running gateway from a validated Config: identity, gate, recorder, metrics,
 * the protocol front doors, the admin API and notifications. The only place that knows
 * about all of them.
 */
import type net from 'node:net';
import { AdminServer } from '../admin/server.js';
import type { ReadinessCheck } from '../admin/readiness.js';
import type { AdminConfig, Config, PostgresConnectionConfig, SshConnectionConfig } from '../config/types.js';
import { createShellInspector } from '../inspect/shell-inspector.js';
import { SshFrontDoor } from '../protocols/ssh/front-door.js';
import { loadHostKey, type HostKey } from '../protocols/ssh/host-key.js';
import { TokenVerifier } from '../identity/verifier.js';
import { createSqlInspector } from '../inspect/sql-inspector.js';
import { PrometheusMetrics } from '../metrics/prometheus.js';
import type { ChainRecorder } from '../recording/chain-recorder.js';
import { FileKeyStore } from '../recording/key-store.js';
import { retentionPolicy, startRetention } from '../recording/retention.js';
import { openRecorder } from '../recording/sqlite-recorder.js';
import { toApprovalRecord } from '../approvals/events.js';
import { createApprovalService } from '../approvals/service.js';
import type { ApprovalRequest, ApprovalService } from '../approvals/types.js';
import type { Logger } from '../log.js';
import type { DeliveryReport } from '../notify/delivery-queue.js';
import { createNotifier, type Notifier } from '../notify/notifier.js';
import type { Recorder } from '../recording/recorder.js';
import { createGate } from '../policy/gate.js';
import { PostgresFrontDoor } from '../protocols/postgres/front-door.js';
import { catalogCacheFor, type CatalogCache } from '../protocols/postgres/catalog-cache.js';
import type { SessionMaskingDeps } from '../protocols/postgres/session.js';
import { MaskingPolicies } from '../masking/policy.js';

export interface Gateway {
  /** Bound address of the PostgreSQL front door, when configured. */
  readonly postgres: net.AddressInfo | undefined;
  /** Bound address of the SSH front door, when configured. */
  readonly ssh: net.AddressInfo | undefined;
  /** The SSH front door's host key fingerprint (`SHA256:…`), when configured. */
  readonly sshHostKey: string | undefined;
  /** Bound address of the admin API, when configured. */
  readonly admin: net.AddressInfo | undefined;
  /** Held operations and approvers' decisions (src/approvals). */
  readonly approvals: ApprovalService;
  close(): Promise<void>;
}

export async function startGateway(config: Config, logger: Logger): Promise<Gateway> {
  const metrics = new PrometheusMetrics({
    connections: config.connections.map((c) => ({ protocol: c.type, name: c.name })),
    issuers: config.identity.issuers.map((i) => i.issuer),
  });
  const verifier = new TokenVerifier(config.identity.issuers, { logger: logger.child({ component: 'identity' }), observer: metrics.tokens });
  const gate = createGate(config.connections);
  const inspect = await createSqlInspector(config.sql.extraDangerousFunctions);
  // Opened before listening: sessions the previous process left open are ended as crashed.
  const recorder = openRecorder(config.dataDir, {
    durability: config.recording.durability,
    groupCommit: true,
    writer: config.recording.writer,
    logger: logger.child({ component: 'recorder' }),
  });
  let approvals: ApprovalService;
  let postgres: PostgresFrontDoor | undefined;
  let ssh: SshFrontDoor | undefined;
  const catalogs = new Map<string, CatalogCache>();
  // Links in notifications point at the admin API: configured, or where it listens once it does.
  let publicUrl = config.notifications?.publicUrl;
  // Before the service: opening it may already announce requests that expired while it was down.
  const notifier: Notifier | undefined =
    config.notifications === undefined
      ? undefined
      : createNotifier(config.notifications, {
          logger: logger.child({ component: 'notify' }),
          approvals: () => approvals,
          publicUrl: () => publicUrl,
          // Being notified is a step of the request too (issue 5, point 8): recorded in the audit chain.
          settled: (report) => recordNotified(recorder, report),
        });
  try {
    // After the recorder: opening it may already record requests that expired while it was down.
    approvals = createApprovalService({
      dataDir: config.dataDir,
      logger: logger.child({ component: 'approvals' }),
      audit: (event) => {
        recorder.approvalEvent(toApprovalRecord(event));
        // Only once recorded (a recorder failure refuses the step); queued, never awaited: see src/notify/notifier.ts.
        notifier?.notify(event);
        if (event.kind === 'revoked' && event.request.kind === 'access') {
          // After the revocation's transaction: the sessions it admitted end unless another grant admits them.
          setImmediate(() => endRevokedAccess(event.request, approvals, { postgres, ssh }, logger));
        }
      },
    });
  } catch (err) {
    notifier?.close();
    recorder.close();
    throw err;
  }
  const state = { closing: false, postgresListening: false, sshListening: false };
  let postgresAddress: net.AddressInfo | undefined;
  let sshAddress: net.AddressInfo | undefined;
  let sshHostKey: HostKey | undefined;
  let admin: AdminServer | undefined;
  let adminAddress: net.AddressInfo | undefined;
  try {
    // The admin API first: /readyz then answers (not ready) until the front doors listen.
    if (config.admin) {
      const adminLogger = logger.child({ component: 'admin' });
      warnIfPlaintext(config.admin, adminLogger);
      admin = new AdminServer({
        config: config.admin,
        verifier,
        dataDir: config.dataDir,
        // The recorder created it; loaded once, so replacing the file later cannot change what verification trusts.
        publicKey: FileKeyStore.open(config.dataDir).publicKey(),
        metrics,
        approvals,
        // POST /api/access-requests checks the connection's access list and access.require_approval.
        connections: config.connections,
        ...(notifier?.slackInteractions === undefined ? {} : { slack: notifier.slackInteractions }),
        readiness: readinessChecks(config, state, recorder),
        logger: adminLogger,
      });
      adminAddress = await admin.listen();
      publicUrl ??= adminBaseUrl(config.admin, adminAddress);
    }
    if (config.postgres) {
      const maxFrameBytes = config.postgres.maxMessageBytes;
      const connections = config.connections.filter((c): c is PostgresConnectionConfig => c.type === 'postgres');
      for (const c of connections) if (c.masking.length > 0) catalogs.set(c.name, catalogCacheFor(c, { maxFrameBytes }));
      postgres = new PostgresFrontDoor({
        masking: maskingDeps(catalogs),
        listener: config.postgres,
        connections,
        verifier,
        gate,
        inspect,
        recorder,
        metrics,
        approvals,
        logger: logger.child({ component: 'postgres' }),
      });
      postgresAddress = await postgres.listen();
      state.postgresListening = true;
    }
    if (config.ssh) {
      sshHostKey = loadHostKey(config.dataDir, config.ssh.hostKeyFile);
      const sshLogger = logger.child({ component: 'ssh' });
      if (sshHostKey.generated) sshLogger.info('generated the SSH host key', { file: sshHostKey.file, fingerprint: sshHostKey.fingerprint });
      ssh = new SshFrontDoor({
        listener: config.ssh,
        hostKey: sshHostKey,
        connections: config.connections.filter((c): c is SshConnectionConfig => c.type === 'ssh'),
        verifier,
        gate,
        inspect: createShellInspector(),
        recorder,
        metrics,
        approvals,
        logger: sshLogger,
      });
      sshAddress = await ssh.listen();
      state.sshListening = true;
    }
  } catch (err) {
    await postgres?.close();
    await admin?.close();
    notifier?.close();
    approvals.close();
    recorder.close();
    throw err;
  }
  const stopRetention = startRetention(recorder, retentionPolicy(config), { logger: logger.child({ component: 'retention' }) });
  return {
    postgres: postgresAddress,
    ssh: sshAddress,
    sshHostKey: sshHostKey?.fingerprint,
    admin: adminAddress,
    approvals,
    async close() {
      state.closing = true;
      state.postgresListening = false;
      state.sshListening = false;
      await postgres?.close();
      await ssh?.close();
      for (const cache of catalogs.values()) cache.close();
      // After the front doors: probes and auditors can watch the sessions end.
      await admin?.close();
      stopRetention();
      // Before the service: what is still queued is dropped (logged), not sent about a closed store.
      notifier?.close();
      approvals.close();
      recorder.close();
      logger.info('gateway stopped');
    },
  };
}

function readinessChecks(config: Config, state: { closing: boolean; postgresListening: boolean; sshListening: boolean }, recorder: ChainRecorder): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [];
  if (config.ssh) {
    checks.push({ name: 'ssh', check: () => (state.sshListening ? undefined : 'the SSH front door is not accepting connections') });
  }
  if (config.postgres) {
    checks.push({
      name: 'postgres',
      check: () => (state.postgresListening ? undefined : 'the PostgreSQL front door is not accepting connections (the gateway is shutting down)'),
    });
  }
  checks.push({
    name: 'recorder',
    check: () => {
      if (state.closing) return 'the gateway is shutting down';
      const unavailable = recorder.unavailable();
      if (unavailable !== undefined) return `recording stopped: ${unavailable}; every operation is refused until the gateway restarts`;
      return new Promise<string | undefined>((resolve) => {
        // Resolves at once when nothing is pending, else after this turn's group commit.
        recorder.whenDurable((durable) =>
          resolve(durable ? undefined : 'a recording commit just failed: operations are refused while it persists (see the gateway log)'),
        );
      });
    },
  });
  return checks;
}

/** Where the admin API listens, as a base URL for links; undefined on a wildcard address (no one host to link to). */
function adminBaseUrl(admin: AdminConfig, address: net.AddressInfo): string | undefined {
  if (address.address === '0.0.0.0' || address.address === '::') return undefined;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${admin.tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
}

/** Bearer tokens in plaintext beyond loopback can be sniffed and replayed on the data path. */
function warnIfPlaintext(admin: AdminConfig, logger: Logger): void {
  const loopback = /^(localhost|127(\.\d{1,3}){3}|::1)$/.test(admin.host);
  if (admin.tls === undefined && !loopback) {
    logger.warn('admin API listens beyond loopback without TLS: callers\' access tokens cross the network in plaintext; set admin.tls or terminate TLS in front of it', {
      host: admin.host,
      port: admin.port,
    });
  }
}

/** Records how a notification about an approval request ended, as a `notified` approval entry. */
function recordNotified(recorder: Recorder, report: DeliveryReport): void {
  const requestId = report.fields['approvalId'];
  if (typeof requestId !== 'string') return;
  recorder.approvalEvent({
    requestId,
    kind: 'notified',
    payload: {
      destination: report.destination,
      ...(typeof report.fields['event'] === 'string' ? { event: report.fields['event'] } : {}),
      delivered: report.delivered,
      attempts: report.attempts,
      ...(report.reason === undefined ? {} : { reason: report.reason }),
    },
  });
}

/** Ends the sessions a revoked access request admitted, unless another approved request still admits them. */
function endRevokedAccess(
  request: ApprovalRequest,
  approvals: ApprovalService,
  doors: { postgres: PostgresFrontDoor | undefined; ssh: SshFrontDoor | undefined },
  logger: Logger,
): void {
  try {
    if (approvals.get(request.id)?.status !== 'revoked') return;
    if (approvals.accessGrant(request.subject, request.clientId, request.connection) !== undefined) return;
    const why = `access to connection "${request.connection}" (request ${request.id}) was revoked; ask for access again with portcullis access request`;
    const ended =
      (doors.postgres?.endSessionsOf(request.subject, request.clientId, request.connection, '28000', why, 'access-expiry') ?? 0) +
      (doors.ssh?.endSessionsOf(request.subject, request.clientId, request.connection, why, 'access-expiry') ?? 0);
    if (ended) logger.info('ended sessions admitted by a revoked access request', { request: request.id, sessions: ended });
  } catch (error) {
    logger.error('could not end the sessions of a revoked access request', { request: request.id, error });
  }
}

/** Sessions get their masking policy per identity, and the catalog of masked connections' targets. */
export function maskingDeps(catalogs: ReadonlyMap<string, CatalogCache>): SessionMaskingDeps {
  return {
    policies: new MaskingPolicies(),
    catalog(connection) {
      const cache = catalogs.get(connection);
      // Only connections with masking profiles have a policy, and each of those has a cache.
      if (cache === undefined) throw new Error(`no catalog cache for connection "${connection}"`);
      return cache;
    },
  };
}
