/**
 * The gateway's resident memory over time: a sampler that reads it on an interval, and a
 * pure summary of the samples in a time window.
 */

export interface RssSample {
  /** performance.now() when read. */
  readonly atMs: number;
  readonly bytes: number;
}

export interface RssWindow {
  readonly samples: number;
  /** NaN when the window holds no sample. */
  readonly min: number;
  readonly max: number;
  readonly first: number;
  readonly last: number;
}

/** The samples taken in [fromMs, toMs]. */
export function rssWindow(samples: readonly RssSample[], fromMs = -Infinity, toMs = Infinity): RssWindow {
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  let first = NaN;
  let last = NaN;
  for (const s of samples) {
    if (s.atMs < fromMs || s.atMs > toMs) continue;
    if (count === 0) first = s.bytes;
    last = s.bytes;
    count++;
    min = Math.min(min, s.bytes);
    max = Math.max(max, s.bytes);
  }
  return count === 0 ? { samples: 0, min: NaN, max: NaN, first: NaN, last: NaN } : { samples: count, min, max, first, last };
}

/**
 * Reads `read()` every `intervalMs` until stopped, and once on start and stop, so even a
 * run shorter than the interval has samples at both ends. Keeps at most `maxSamples` (the
 * oldest are dropped), so a long run cannot make the bench itself grow without bound.
 */
export class RssSampler {
  private readonly kept: RssSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;

  constructor(
    private readonly read: () => number,
    private readonly intervalMs: number,
    private readonly maxSamples = 200_000,
  ) {}

  start(): this {
    if (this.timer !== undefined) return this;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  /** Stops, and throws if a read failed (the process died: its memory is then unknown). */
  stop(): readonly RssSample[] {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.sample();
    }
    if (this.failure !== undefined) throw this.failure;
    return this.kept;
  }

  get samples(): readonly RssSample[] {
    return this.kept;
  }

  private sample(): void {
    try {
      this.kept.push({ atMs: performance.now(), bytes: this.read() });
      if (this.kept.length > this.maxSamples) this.kept.shift();
    } catch (error) {
      this.failure ??= error;
    }
  }
}
