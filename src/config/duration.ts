/**
 * Durations in the config file: "500ms", "60s", "5m", "1h", "1d", Go-style sequences such
 * as "1h30m", or a bare number of seconds. Always resolved to whole milliseconds.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/**
 * The same grammar as `parseDuration`, as a JSON Schema pattern, so editors can flag a bad
 * duration before the loader runs. Kept next to the parser so the two cannot drift.
 */
export const DURATION_PATTERN = '^(?:\\d+(?:\\.\\d+)?(?:ms|s|m|h|d))+$|^\\d+(?:\\.\\d+)?$';

export const DURATION_EXAMPLES = '"500ms", "60s", "5m", "1h", "1d", "1h30m"';

export class DurationError extends Error {
  override readonly name = 'DurationError';
  constructor(
    readonly input: string | number,
    readonly reason: string,
  ) {
    super(`invalid duration ${JSON.stringify(input)}: ${reason}`);
  }
}

const BARE_SECONDS = /^\d+(?:\.\d+)?$/;
const PART = /(\d+(?:\.\d+)?)([a-zA-Zµ]*)/y;

/** Parses a duration; throws `DurationError` saying what is wrong. */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new DurationError(input, 'not a finite number');
    if (input < 0) throw new DurationError(input, 'must not be negative');
    return toMs(input, input * 1_000);
  }
  const text = input;
  if (text === '') throw new DurationError(input, `empty; expected e.g. ${DURATION_EXAMPLES}`);
  if (text.startsWith('-')) throw new DurationError(input, 'must not be negative');
  if (BARE_SECONDS.test(text)) return toMs(input, Number(text) * 1_000);

  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const match = PART.exec(text);
    if (match === null) {
      throw new DurationError(input, `unexpected ${JSON.stringify(text.slice(start))}; expected e.g. ${DURATION_EXAMPLES}`);
    }
    const [, amount = '', unit = ''] = match;
    if (unit === '') throw new DurationError(input, `number ${amount} has no unit (use ms, s, m, h or d)`);
    if (!isUnit(unit)) throw new DurationError(input, `unknown unit ${JSON.stringify(unit)} (use ms, s, m, h or d)`);
    total += Number(amount) * UNIT_MS[unit];
  }
  return toMs(input, total);
}

function isUnit(unit: string): unit is Unit {
  return Object.hasOwn(UNIT_MS, unit);
}

function toMs(input: string | number, ms: number): number {
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded)) throw new DurationError(input, 'too large');
  return rounded;
}

/** The shortest exact spelling of `ms` in the config grammar ("90s" → "1m30s"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit];
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}
