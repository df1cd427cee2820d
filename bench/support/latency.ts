/**
 * Latency percentiles from pgbench's per-transaction logs (`pgbench -l`). Pure: the caller
 * reads the files. pgbench's averages hide the tail; the log has every transaction's own
 * latency, so p50 and p99 come from the real distribution.
 *
 * A log line (see `man pgbench`, "Per-Transaction Logging"), space-separated:
 *   client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]
 * where `time` is the transaction's latency in µs — or, for a transaction that did not
 * complete, `failed` (`serialization` / `deadlock` with --failures-detailed) or `skipped`
 * (with --rate and --latency-limit).
 */

export class PgbenchLogError extends Error {
  override readonly name = 'PgbenchLogError';
}

export interface TransactionLog {
  /** Latency of every completed transaction, µs, in log order. */
  readonly latenciesUs: readonly number[];
  /** Transactions logged as failed (failed, serialization, deadlock). */
  readonly failed: number;
  /** Transactions logged as skipped (--rate with --latency-limit). */
  readonly skipped: number;
}

const FAILED = new Set(['failed', 'serialization', 'deadlock']);
const UNSIGNED = /^\d+$/;

/**
 * Parses one pgbench per-transaction log. Throws PgbenchLogError naming the line on anything
 * that is not a log line (a truncated file, another program's output…): a percentile computed
 * from misread columns would look plausible and be wrong. It cannot tell every
 * --aggregate-interval line from a transaction line (both are rows of integers), so the
 * caller must not pass that option.
 */
export function parseTransactionLog(text: string): TransactionLog {
  const latenciesUs: number[] = [];
  let failed = 0;
  let skipped = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const fields = line.split(/\s+/);
    const bad = (why: string): never => {
      throw new PgbenchLogError(`pgbench log line ${i + 1}: ${why}: ${JSON.stringify(line.slice(0, 120))}`);
    };
    if (fields.length < 6 || fields.length > 8) bad(`expected 6 to 8 fields, got ${fields.length}`);
    for (const at of [0, 1, 3, 4, 5]) if (!UNSIGNED.test(fields[at]!)) bad(`field ${at + 1} is not an unsigned integer`);
    if (Number(fields[5]) >= 1_000_000) bad('field 6 (time_us) is not a fraction of a second in µs');
    const time = fields[2]!;
    if (UNSIGNED.test(time)) latenciesUs.push(Number(time));
    else if (FAILED.has(time)) failed++;
    else if (time === 'skipped') skipped++;
    else bad('the time field is neither µs nor failed/skipped');
  }
  return { latenciesUs, failed, skipped };
}

/** One log from several (pgbench writes one file per worker thread). */
export function mergeTransactionLogs(logs: readonly TransactionLog[]): TransactionLog {
  return {
    latenciesUs: logs.flatMap((l) => l.latenciesUs),
    failed: logs.reduce((a, l) => a + l.failed, 0),
    skipped: logs.reduce((a, l) => a + l.skipped, 0),
  };
}

/**
 * The p-th percentile (0 < p ≤ 100) of values sorted ascending, by the nearest-rank method:
 * the smallest value with at least p% of all values at or below it. It is always a value
 * that occurred (no interpolation), so p99 of a run is a latency some transaction had.
 */
export function percentile(sortedAscending: ArrayLike<number>, p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile: p must be in (0, 100], got ${p}`);
  const n = sortedAscending.length;
  if (n === 0) return NaN;
  const rank = Math.ceil((p / 100) * n);
  return sortedAscending[Math.min(n, Math.max(1, rank)) - 1]!;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly meanUs: number;
  readonly minUs: number;
  readonly maxUs: number;
}

export function summarizeLatencies(latenciesUs: readonly number[]): LatencySummary {
  // A typed array sorts numerically (Array#sort would compare as strings).
  const sorted = Float64Array.from(latenciesUs).sort();
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: n,
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    meanUs: n === 0 ? NaN : sum / n,
    minUs: n === 0 ? NaN : sorted[0]!,
    maxUs: n === 0 ? NaN : sorted[n - 1]!,
  };
}
