/**
 * What a content detector is: data, not code paths. A detector names one kind of
 * sensitive value and lists rules; each rule is a pattern, an optional validator that
 * rejects look-alikes (Luhn, mod-97, SSN ranges…), optional context words that must
 * appear nearby, and the confidence a validated match earns.
 */

export interface ContextRequirement {
  /** Matched case-insensitively against the text just before the candidate. */
  readonly words: RegExp;
  /** How many UTF-16 code units before the candidate to look in. */
  readonly before: number;
}

export interface DetectorRule {
  /**
   * Must carry the `g` and `d` flags: `scan` iterates every match and reads group
   * indices. When the pattern has named groups `value`, `value2`, `value3` (one per
   * alternative), the first that matched is the sensitive span — e.g. `password=VALUE`.
   */
  readonly pattern: RegExp;
  /** Receives the sensitive span's text; false drops the candidate. */
  readonly validate?: (value: string) => boolean;
  readonly context?: ContextRequirement;
  /** 0–1; on overlap the higher confidence wins. */
  readonly confidence: number;
}

export interface Detector {
  /** Stable, kebab-case; what `--detector` and configs name. */
  readonly name: string;
  /** Upper-case placeholder word: `redact` writes `[LABEL]`. */
  readonly label: string;
  readonly rules: readonly DetectorRule[];
  /**
   * Values that must never be partially shown (a private key's last characters are
   * still key material): `partial` falls back to `redact` for them.
   */
  readonly redactOnly?: boolean;
}

/** One sensitive span found in a text. Never carries the value itself. */
export interface Finding {
  readonly detector: string;
  readonly label: string;
  /** UTF-16 index of the first code unit. */
  readonly start: number;
  /** UTF-16 index one past the last code unit. */
  readonly end: number;
  readonly confidence: number;
}

/** Builds a rule pattern with the flags `scan` relies on. */
export function pattern(source: string, extraFlags = ''): RegExp {
  return new RegExp(source, `gd${extraFlags}`);
}

/** Word boundaries that also treat `_` and `-` as part of a token (ids, keys, slugs). */
export const NOT_AFTER_TOKEN = '(?<![A-Za-z0-9_-])';
export const NOT_BEFORE_TOKEN = '(?![A-Za-z0-9_-])';
