/**
 * Byte sizes in the config file: a number of bytes, or "512B", "64KiB", "1MiB", "1GiB".
 * Only binary units: "MB" is ambiguous (10^6 or 2^20?), so it is refused rather than guessed.
 */

const UNIT_BYTES = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;
type Unit = keyof typeof UNIT_BYTES;

/** The grammar of `parseSize` as a JSON Schema pattern (for editors and the raw schema). */
export const SIZE_PATTERN = '^\\d+(?:\\.\\d+)?\\s?(?:B|KiB|MiB|GiB)$|^\\d+$';

export const SIZE_EXAMPLES = '"8KiB", "1MiB", "1GiB" or a number of bytes';

export class SizeError extends Error {
  override readonly name = 'SizeError';
  constructor(
    readonly input: string | number,
    readonly reason: string,
  ) {
    super(`invalid size ${JSON.stringify(input)}: ${reason}`);
  }
}

const SIZE = /^(\d+(?:\.\d+)?)\s?([A-Za-z]*)$/;

/** Parses a size to a whole number of bytes; throws `SizeError` saying what is wrong. */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') return wholeBytes(input, input);
  const text = input;
  if (text.startsWith('-')) throw new SizeError(input, 'must not be negative');
  const match = SIZE.exec(text);
  if (match === null) throw new SizeError(input, `expected e.g. ${SIZE_EXAMPLES}`);
  const [, amount = '', unit = ''] = match;
  if (unit === '') return wholeBytes(input, Number(amount));
  if (!isUnit(unit)) {
    throw new SizeError(input, `unknown unit ${JSON.stringify(unit)} (use B, KiB, MiB or GiB; 1 KiB = 1024 bytes)`);
  }
  return wholeBytes(input, Number(amount) * UNIT_BYTES[unit]);
}

function isUnit(unit: string): unit is Unit {
  return Object.hasOwn(UNIT_BYTES, unit);
}

function wholeBytes(input: string | number, bytes: number): number {
  if (!Number.isFinite(bytes)) throw new SizeError(input, 'not a finite number');
  if (bytes < 0) throw new SizeError(input, 'must not be negative');
  if (!Number.isInteger(bytes)) throw new SizeError(input, 'is not a whole number of bytes');
  if (!Number.isSafeInteger(bytes)) throw new SizeError(input, 'too large');
  return bytes;
}

/** The largest unit that spells `bytes` exactly (16777216 → "16MiB", 1000 → "1000B"). */
export function formatSize(bytes: number): string {
  for (const unit of ['GiB', 'MiB', 'KiB'] as const) {
    const size = UNIT_BYTES[unit];
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
