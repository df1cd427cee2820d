/** Latency percentiles from pgbench's per-transaction logs: pure, so tested on exact lines and values. */
import { describe, expect, it } from 'vitest';
import { mergeTransactionLogs, parseTransactionLog, percentile, PgbenchLogError, summarizeLatencies } from '../../../bench/support/latency.js';

// Lines as pgbench 15 writes them (`pgbench -l`): client_id transaction_no time script_no time_epoch time_us.
const LOG = ['0 199 2241 0 1175850568 995598', '0 200 2465 0 1175850568 998079', '1 0 87 0 1175850569 608', '0 201 2513 0 1175850569 2663', ''].join('\n');

describe('parseTransactionLog', () => {
  it('takes the third column as the latency in µs, in log order', () => {
    expect(parseTransactionLog(LOG)).toEqual({ latenciesUs: [2241, 2465, 87, 2513], failed: 0, skipped: 0 });
  });

  it('counts failed and skipped transactions instead of treating them as latencies', () => {
    const text = [
      '3 0 47423 0 1499414498 34501 3', // with --max-tries: a retries column
      '0 0 failed 0 1499414498 84905 9',
      '2 0 serialization 0 1499414498 86248 9', // --failures-detailed
      '0 83 skipped 0 1412881037 914578 5217', // --rate with --latency-limit
      '0 84 4142 0 1412881037 918023 2333',
    ].join('\n');
    expect(parseTransactionLog(text)).toEqual({ latenciesUs: [47423, 4142], failed: 2, skipped: 1 });
  });

  it('accepts CRLF line ends and blank lines', () => {
    expect(parseTransactionLog('0 1 100 0 1700000000 5\r\n\r\n0 2 200 0 1700000000 9\r\n').latenciesUs).toEqual([100, 200]);
  });

  it('refuses what is not a per-transaction log, naming the line', () => {
    const truncated = '0 1 100 0 170000'; // a log cut off mid-line
    expect(() => parseTransactionLog(`0 1 100 0 1700000000 5\n${truncated}\n`)).toThrow(PgbenchLogError);
    expect(() => parseTransactionLog(`0 1 100 0 1700000000 5\n${truncated}\n`)).toThrow(/line 2: expected 6 to 8 fields, got 5/);
    expect(() => parseTransactionLog('pgbench: error: connection to server failed')).toThrow(PgbenchLogError);
    expect(() => parseTransactionLog('0 1 1.5 0 1700000000 5')).toThrow(/time field/);
    expect(() => parseTransactionLog('0 1 -5 0 1700000000 5')).toThrow(/time field/);
    expect(() => parseTransactionLog('a 1 100 0 1700000000 5')).toThrow(/field 1/);
    // time_us is the fractional second: a million or more means the columns are not what we think.
    expect(() => parseTransactionLog('0 1 100 0 1700000000 1000000')).toThrow(/time_us/);
  });

  it('merges the per-thread logs of one run', () => {
    const merged = mergeTransactionLogs([parseTransactionLog(LOG), parseTransactionLog('0 0 failed 0 1 2\n0 1 5 0 1 2')]);
    expect(merged).toEqual({ latenciesUs: [2241, 2465, 87, 2513, 5], failed: 1, skipped: 0 });
  });
});

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100

  it('is the smallest value with at least p% of values at or below it', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 1)).toBe(1);
    expect(percentile(hundred, 99.5)).toBe(100);
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30], 50)).toBe(20);
    expect(percentile([7], 99)).toBe(7);
  });

  it('catches a tail an average hides: p99 of 98 fast and 2 slow transactions is slow', () => {
    const values = [...Array.from({ length: 98 }, () => 100), 5000, 9000];
    expect(percentile(values, 50)).toBe(100);
    expect(percentile(values, 99)).toBe(5000);
  });

  it('is NaN for no values and rejects p outside (0, 100]', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(hundred, 0)).toThrow(RangeError);
    expect(() => percentile(hundred, 101)).toThrow(RangeError);
  });
});

describe('summarizeLatencies', () => {
  it('sorts numerically (not as strings) before taking percentiles', () => {
    // As strings "100000" < "2000" < "300": a string sort would put the slowest first.
    const latencies = [300, 100000, 2000, ...Array.from({ length: 97 }, () => 250)];
    const summary = summarizeLatencies(latencies);
    expect(summary.count).toBe(100);
    expect(summary.p50Us).toBe(250);
    expect(summary.p99Us).toBe(2000);
    expect(summary.minUs).toBe(250);
    expect(summary.maxUs).toBe(100000);
    expect(summary.meanUs).toBeCloseTo((300 + 100000 + 2000 + 97 * 250) / 100, 6);
  });

  it('summarises a parsed log end to end', () => {
    const summary = summarizeLatencies(parseTransactionLog(LOG).latenciesUs);
    expect(summary).toMatchObject({ count: 4, p50Us: 2241, p99Us: 2513, minUs: 87, maxUs: 2513 });
  });

  it('has NaN statistics for an empty run rather than zeros', () => {
    const summary = summarizeLatencies([]);
    expect(summary.count).toBe(0);
    expect(summary.p50Us).toBeNaN();
    expect(summary.meanUs).toBeNaN();
  });
});
