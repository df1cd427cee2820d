/**
 * Rewrites a text with its findings masked.
 *
 * - `redact` replaces each value with `[LABEL]` (`[EMAIL]`, `[CARD]`, `[SECRET]`…).
 * - `partial` keeps the value's shape and its last 4 letters or digits: every other
 *   letter or digit becomes `*`, separators (spaces, dashes, dots, `@`) stay, so
 *   `4111 1111 1111 1111` reads `**** **** **** 1111` and `123-45-6789` `***-**-6789`.
 *   Values with fewer than 8 letters or digits are starred entirely (4 would be half of
 *   it), and detectors marked `redactOnly` (private keys) are redacted instead.
 */
import type { Detector, Finding } from './detector.js';
import { ALL_DETECTORS } from './registry.js';

export type SpanStrategy = 'redact' | 'partial';
export const SPAN_STRATEGIES: readonly SpanStrategy[] = ['redact', 'partial'];

const KEEP = 4;
const MIN_TO_KEEP = 8;

/** Findings that overlap, run backwards or fall outside the text: a caller bug. */
export class MaskFindingsError extends Error {
  constructor(message: string) {
    super(`${message}; pass the findings scan() returned for this same text`);
    this.name = 'MaskFindingsError';
  }
}

const ALNUM = /[\p{L}\p{N}]/u;

export function partialMask(value: string): string {
  const chars = Array.from(value);
  const alnum = chars.filter((c) => ALNUM.test(c)).length;
  let keep = alnum >= MIN_TO_KEEP ? KEEP : 0;
  const out: string[] = [];
  for (let i = chars.length - 1; i >= 0; i--) {
    const c = chars[i] as string;
    if (!ALNUM.test(c)) out.push(c);
    else if (keep > 0) {
      out.push(c);
      keep--;
    } else out.push('*');
  }
  return out.reverse().join('');
}

/**
 * `findings` must be sorted and must not overlap (what `scan` returns). `detectors`
 * tells which are redact-only (default: the built-in ones); findings of detectors not
 * listed may be partially masked.
 */
export function maskText(
  text: string,
  findings: readonly Finding[],
  strategy: SpanStrategy,
  detectors: readonly Detector[] = ALL_DETECTORS,
): string {
  const redactOnly = new Set(detectors.filter((d) => d.redactOnly).map((d) => d.name));
  const parts: string[] = [];
  let at = 0;
  for (const f of findings) {
    if (f.start < at || f.end <= f.start || f.end > text.length) {
      throw new MaskFindingsError(`finding ${f.detector} [${f.start}, ${f.end}) overlaps another, is empty or lies outside the ${text.length}-character text`);
    }
    parts.push(text.slice(at, f.start));
    const value = text.slice(f.start, f.end);
    parts.push(strategy === 'partial' && !redactOnly.has(f.detector) ? partialMask(value) : `[${f.label}]`);
    at = f.end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}
