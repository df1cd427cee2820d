/** Pure arithmetic for bench:sessions: percentiles of connect times, memory per session. */

export interface Distribution {
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Nearest-rank percentile (`p` in 0–100) of unsorted values; NaN when there are none.
 * Nearest rank, not interpolation: p99 of 1,000 connect times is the 990th slowest, a time
 * some client really waited.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be 0–100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function distribution(values: readonly number[]): Distribution {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length === 0 ? NaN : Math.max(...values),
  };
}

/**
 * Resident memory each session added, in KiB (1,024 bytes): (RSS with them − RSS before) ÷
 * sessions. NaN when there is nothing to divide by, or when the difference is not positive:
 * then the sessions were lost in the noise and no figure beats a false one.
 */
export function kibPerSession(rssBefore: number, rssWith: number, sessions: number): number {
  if (!(sessions > 0)) return NaN;
  const added = rssWith - rssBefore;
  return added > 0 ? added / sessions / 1024 : NaN;
}
