/** The Prometheus text encoder, byte for byte, and the gateway metrics built on it. */
import { describe, expect, it } from 'vitest';
import { PrometheusMetrics } from '../../../src/metrics/prometheus.js';
import {
  CounterFamily,
  escapeHelp,
  escapeLabelValue,
  formatValue,
  GaugeFamily,
  HistogramFamily,
  Registry,
} from '../../../src/metrics/prometheus-text.js';
import { parseExposition } from './exposition.js';

describe('Prometheus text encoding', () => {
  it('escapes HELP text and label values as the format requires', () => {
    expect(escapeHelp('a\\b\nc "d"')).toBe('a\\\\b\\nc "d"');
    expect(escapeLabelValue('a\\b\nc "d"')).toBe('a\\\\b\\nc \\"d\\"');
    expect([Infinity, -Infinity, NaN, 0, 1.5, 1e21].map(formatValue)).toEqual(['+Inf', '-Inf', 'NaN', '0', '1.5', '1e+21']);
  });

  it('renders counters and gauges with their labels, in registration order', () => {
    const registry = new Registry();
    const requests = registry.register(new CounterFamily('app_requests_total', 'Requests.\nAll of them.', ['path', 'code']));
    const temperature = registry.register(new GaugeFamily('app_temperature', 'Temperature.', []));
    requests.labels('/a"b', '200').inc();
    requests.labels('/a"b', '200').inc(2);
    requests.labels('/c', '500').inc(-5); // ignored: counters never go down
    temperature.labels().set(-3.5);
    expect(registry.render()).toBe(
      '# HELP app_requests_total Requests.\\nAll of them.\n' +
        '# TYPE app_requests_total counter\n' +
        'app_requests_total{path="/a\\"b",code="200"} 3\n' +
        'app_requests_total{path="/c",code="500"} 0\n' +
        '# HELP app_temperature Temperature.\n' +
        '# TYPE app_temperature gauge\n' +
        'app_temperature -3.5\n',
    );
  });

  it('renders histograms with cumulative buckets, +Inf, _sum and _count', () => {
    const registry = new Registry();
    const latency = registry.register(new HistogramFamily('op_seconds', 'Latency.', ['db'], [0.1, 1]));
    const child = latency.labels('x');
    for (const v of [0.05, 0.1, 0.5, 3, NaN]) child.observe(v);
    expect(registry.render()).toBe(
      '# HELP op_seconds Latency.\n# TYPE op_seconds histogram\n' +
        'op_seconds_bucket{db="x",le="0.1"} 2\n' +
        'op_seconds_bucket{db="x",le="1"} 3\n' +
        'op_seconds_bucket{db="x",le="+Inf"} 4\n' +
        'op_seconds_sum{db="x"} 3.65\n' +
        'op_seconds_count{db="x"} 4\n',
    );
  });

  it('refuses invalid names, wrong label counts, unsorted buckets and duplicates', () => {
    expect(() => new CounterFamily('bad-name', 'x', [])).toThrow(/invalid metric name/);
    expect(() => new CounterFamily('ok', 'x', ['le'])).toThrow(/invalid label name "le"/);
    expect(() => new CounterFamily('ok', 'x', ['a']).labels()).toThrow(/takes 1 label values \(a\), got 0/);
    expect(() => new HistogramFamily('h', 'x', [], [1, 1])).toThrow(/strictly increasing/);
    const registry = new Registry();
    registry.register(new GaugeFamily('g', 'x', []));
    expect(() => registry.register(new GaugeFamily('g', 'x', []))).toThrow(/registered twice/);
  });
});

describe('PrometheusMetrics', () => {
  it('exposes every configured connection at zero from the start', () => {
    const text = new PrometheusMetrics({ connections: [{ protocol: 'postgres', name: 'demo' }], processMetrics: false }).render();
    const s = parseExposition(text);
    expect(s.get('portcullis_sessions_active{protocol="postgres",connection="demo"}')).toBe(0);
    for (const decision of ['allow', 'deny', 'review']) {
      expect(s.get(`portcullis_operations_total{protocol="postgres",connection="demo",decision="${decision}"}`)).toBe(0);
    }
    expect(s.get('portcullis_operation_duration_seconds_count{protocol="postgres",connection="demo"}')).toBe(0);
    for (const reason of ['invalid-token', 'access-denied', 'unknown-connection', 'protocol']) {
      expect(s.get(`portcullis_auth_failures_total{protocol="postgres",reason="${reason}"}`)).toBe(0);
    }
    expect(s.get('portcullis_recorder_lag_seconds_count')).toBe(0);
    expect(text).toContain('# TYPE portcullis_operation_duration_seconds histogram\n');
    expect(text).not.toContain('process_');
  });

  it('counts what the front doors report', () => {
    const metrics = new PrometheusMetrics({ connections: [{ protocol: 'postgres', name: 'demo' }] });
    metrics.sessionOpened('postgres', 'demo');
    metrics.sessionOpened('postgres', 'demo');
    metrics.sessionClosed('postgres', 'demo');
    metrics.operationDecided('postgres', 'demo', 'allow');
    metrics.operationDecided('postgres', 'demo', 'deny');
    metrics.operationDecided('postgres', 'demo', 'deny');
    metrics.operationCompleted('postgres', 'demo', 0.003);
    metrics.authFailure('postgres', 'invalid-token');
    metrics.recorderLag(0.0002);
    metrics.adminRequest('sessions', 200);
    const s = parseExposition(metrics.render());
    expect(s.get('portcullis_sessions_active{protocol="postgres",connection="demo"}')).toBe(1);
    expect(s.get('portcullis_operations_total{protocol="postgres",connection="demo",decision="allow"}')).toBe(1);
    expect(s.get('portcullis_operations_total{protocol="postgres",connection="demo",decision="deny"}')).toBe(2);
    expect(s.get('portcullis_operation_duration_seconds_bucket{protocol="postgres",connection="demo",le="0.0025"}')).toBe(0);
    expect(s.get('portcullis_operation_duration_seconds_bucket{protocol="postgres",connection="demo",le="0.005"}')).toBe(1);
    expect(s.get('portcullis_operation_duration_seconds_sum{protocol="postgres",connection="demo"}')).toBe(0.003);
    expect(s.get('portcullis_auth_failures_total{protocol="postgres",reason="invalid-token"}')).toBe(1);
    expect(s.get('portcullis_recorder_lag_seconds_bucket{le="0.00025"}')).toBe(1);
    expect(s.get('portcullis_admin_requests_total{route="sessions",status="200"}')).toBe(1);
    expect(s.get('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(s.get('process_start_time_seconds')).toBeGreaterThan(1_600_000_000);
  });

  it('bounds the series a stream of unexpected connection names can create', () => {
    const metrics = new PrometheusMetrics({ connections: [], processMetrics: false });
    for (let i = 0; i < 1500; i++) metrics.operationDecided('postgres', `c${i}`, 'allow');
    const s = parseExposition(metrics.render());
    const series = [...s.keys()].filter((k) => k.startsWith('portcullis_operations_total{') && k.endsWith('decision="allow"}'));
    expect(series).toHaveLength(1001);
    expect(s.get('portcullis_operations_total{protocol="postgres",connection="_other",decision="allow"}')).toBe(500);
    expect(s.get('portcullis_operations_total{protocol="postgres",connection="c999",decision="allow"}')).toBe(1);
  });
});
