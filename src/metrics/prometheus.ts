/**
 * The gateway's metrics, exposed in Prometheus text format on the admin listener's
 * /metrics. Implements GatewayMetrics for the front doors: every series a front door can
 * touch is created up front (one per configured connection, decision and failure reason),
 * so a hot-path call is one Map lookup and one addition. `tokens` is the token verifier's
 * observer (token-metrics.ts).
 */
import type { GatewayMetrics, MetricsProtocol } from './gateway-metrics.js';
import {
  CollectedFamily,
  CounterFamily,
  GaugeFamily,
  HistogramFamily,
  Registry,
  type CounterChild,
  type GaugeChild,
  type HistogramChild,
} from './prometheus-text.js';
import { TokenMetrics } from './token-metrics.js';

type Effect = Parameters<GatewayMetrics['operationDecided']>[2];
type AuthFailureReason = Parameters<GatewayMetrics['authFailure']>[1];

const PROTOCOLS: readonly MetricsProtocol[] = ['postgres', 'ssh'];
const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = ['invalid-token', 'access-denied', 'unknown-connection', 'protocol'];

/** From a cached read (~0.1 ms) to a slow analytical query. */
export const OPERATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Group commit makes recorder lag sub-millisecond normally; the upper buckets show a struggling disk. */
export const RECORDER_LAG_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

/**
 * Connections are fixed by the configuration, so this bound is never reached in practice; it
 * keeps a bug that passes unexpected names from growing the registry without limit.
 */
const MAX_CONNECTION_SERIES = 1000;
const OVERFLOW_CONNECTION = '_other';

export interface PrometheusMetricsOptions {
  /** Every connection a front door may report, so its series exist (at zero) from the start. */
  readonly connections: readonly { readonly protocol: MetricsProtocol; readonly name: string }[];
  /** Every configured issuer, so its key-load series exist (at zero) from the start. */
  readonly issuers?: readonly string[];
  /** Process CPU, memory and start time (default true). */
  readonly processMetrics?: boolean;
}

interface ConnectionSeries {
  readonly active: GaugeChild;
  readonly decided: Readonly<Record<Effect, CounterChild>>;
  readonly duration: HistogramChild;
}

export class PrometheusMetrics implements GatewayMetrics {
  private readonly registry = new Registry();
  private readonly sessionsActive: GaugeFamily;
  private readonly operations: CounterFamily;
  private readonly operationDuration: HistogramFamily;
  private readonly authFailures: CounterFamily;
  private readonly adminRequests: CounterFamily;
  private readonly recorderLagSeconds: HistogramChild;
  private readonly series = new Map<MetricsProtocol, Map<string, ConnectionSeries>>();
  private readonly authFailureSeries = new Map<MetricsProtocol, Readonly<Record<AuthFailureReason, CounterChild>>>();
  private connectionSeriesCount = 0;
  /** Token verification and issuer key loads: the TokenVerifier's `observer`. */
  readonly tokens: TokenMetrics;

  constructor(options: PrometheusMetricsOptions) {
    const r = this.registry;
    this.sessionsActive = r.register(
      new GaugeFamily('portcullis_sessions_active', 'Sessions relaying right now (authenticated and authorized).', ['protocol', 'connection']),
    );
    this.operations = r.register(
      new CounterFamily('portcullis_operations_total', 'Operations decided by the policy gate, by decision.', ['protocol', 'connection', 'decision']),
    );
    this.operationDuration = r.register(
      new HistogramFamily(
        'portcullis_operation_duration_seconds',
        'Time from forwarding an operation to its result.',
        ['protocol', 'connection'],
        OPERATION_BUCKETS,
      ),
    );
    this.authFailures = r.register(
      new CounterFamily('portcullis_auth_failures_total', 'Connections refused before a session opened, by reason.', ['protocol', 'reason']),
    );
    this.recorderLagSeconds = r
      .register(new HistogramFamily('portcullis_recorder_lag_seconds', 'Time from writing an event to it being durable.', [], RECORDER_LAG_BUCKETS))
      .labels();
    this.tokens = new TokenMetrics(r, options.issuers ?? []);
    this.adminRequests = r.register(
      new CounterFamily('portcullis_admin_requests_total', 'Admin API requests, by route and HTTP status.', ['route', 'status']),
    );
    for (const protocol of PROTOCOLS) {
      this.series.set(protocol, new Map());
      const byReason = Object.fromEntries(AUTH_FAILURE_REASONS.map((reason) => [reason, this.authFailures.labels(protocol, reason)]));
      this.authFailureSeries.set(protocol, byReason as Record<AuthFailureReason, CounterChild>);
    }
    for (const { protocol, name } of options.connections) this.connection(protocol, name);
    if (options.processMetrics ?? true) this.registerProcessMetrics();
  }

  sessionOpened(protocol: MetricsProtocol, connection: string): void {
    this.connection(protocol, connection).active.inc();
  }

  sessionClosed(protocol: MetricsProtocol, connection: string): void {
    this.connection(protocol, connection).active.dec();
  }

  authFailure(protocol: MetricsProtocol, reason: AuthFailureReason): void {
    this.authFailureSeries.get(protocol)?.[reason]?.inc();
  }

  operationDecided(protocol: MetricsProtocol, connection: string, effect: Effect): void {
    this.connection(protocol, connection).decided[effect]?.inc();
  }

  operationCompleted(protocol: MetricsProtocol, connection: string, seconds: number): void {
    this.connection(protocol, connection).duration.observe(seconds);
  }

  recorderLag(seconds: number): void {
    this.recorderLagSeconds.observe(seconds);
  }

  /** An admin API request was answered. `route` is a fixed route name (never the raw path). */
  adminRequest(route: string, status: number): void {
    this.adminRequests.labels(route, String(status)).inc();
  }

  /** The exposition for /metrics. */
  render(): string {
    return this.registry.render();
  }

  private connection(protocol: MetricsProtocol, name: string): ConnectionSeries {
    let byName = this.series.get(protocol);
    if (byName === undefined) {
      byName = new Map();
      this.series.set(protocol, byName);
    }
    const found = byName.get(name);
    if (found !== undefined) return found;
    const label = this.connectionSeriesCount < MAX_CONNECTION_SERIES ? name : OVERFLOW_CONNECTION;
    const created = byName.get(label) ?? {
      active: this.sessionsActive.labels(protocol, label),
      decided: {
        allow: this.operations.labels(protocol, label, 'allow'),
        deny: this.operations.labels(protocol, label, 'deny'),
        review: this.operations.labels(protocol, label, 'review'),
      },
      duration: this.operationDuration.labels(protocol, label),
    };
    if (!byName.has(label)) {
      byName.set(label, created);
      this.connectionSeriesCount++;
    }
    return created;
  }

  private registerProcessMetrics(): void {
    const r = this.registry;
    const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
    r.register(new CollectedFamily('process_cpu_user_seconds_total', 'User CPU time spent, in seconds.', 'counter', () => process.cpuUsage().user / 1e6));
    r.register(new CollectedFamily('process_cpu_system_seconds_total', 'System CPU time spent, in seconds.', 'counter', () => process.cpuUsage().system / 1e6));
    r.register(new CollectedFamily('process_resident_memory_bytes', 'Resident memory size, in bytes.', 'gauge', () => process.memoryUsage.rss()));
    r.register(new CollectedFamily('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', 'gauge', () => process.memoryUsage().heapUsed));
    r.register(new CollectedFamily('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', 'gauge', () => startSeconds));
  }
}
