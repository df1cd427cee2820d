/**
 * What front doors report for monitoring. Front doors call these on their hot paths, so an
 * implementation must be cheap (counter increments, no I/O). `noopMetrics` is for tests
 * and tools that run a front door without the admin API.
 */
export type MetricsProtocol = 'postgres' | 'ssh';

export interface GatewayMetrics {
  /** An authenticated, authorized session started relaying. */
  sessionOpened(protocol: MetricsProtocol, connection: string): void;
  /** A session counted by `sessionOpened` ended (for any reason). */
  sessionClosed(protocol: MetricsProtocol, connection: string): void;
  /** A token, access-list or connection refusal before a session opened. `reason` is a short fixed label. */
  authFailure(protocol: MetricsProtocol, reason: 'invalid-token' | 'access-denied' | 'unknown-connection' | 'protocol'): void;
  /** An operation was decided. */
  operationDecided(protocol: MetricsProtocol, connection: string, effect: 'allow' | 'deny' | 'review'): void;
  /** A forwarded operation completed (from forwarding to its result), in seconds. */
  operationCompleted(protocol: MetricsProtocol, connection: string, seconds: number): void;
  /** Time from an operation's event being written to it being durable, in seconds (the recorder's lag). */
  recorderLag(seconds: number): void;
}

export const noopMetrics: GatewayMetrics = {
  sessionOpened() {},
  sessionClosed() {},
  authFailure() {},
  operationDecided() {},
  operationCompleted() {},
  recorderLag() {},
};
