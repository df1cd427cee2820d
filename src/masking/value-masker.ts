/**
 * Masks single values as text: the content detectors' findings inside a value, or a whole
 * value under a column rule. The wire maskers call it for every value they scan, so the
 * common case (nothing found) returns `undefined` and builds nothing.
 *
 * Replacements use only letters, digits, `_`, `*`, `[` and `]` (plus, for `partial`, the
 * separators the value already had), so a value masked inside the text of a PostgreSQL
 * array, record, JSON document or XML document still parses. Where a finding straddles
 * that syntax (a secret quoted across two array elements), the whole value is masked
 * instead — see `TextSyntax`.
 *
 * Hash tokens: `LABEL_` + the first 16 hex digits (64 bits) of HMAC-SHA-256(key, the
 * value's UTF-8 bytes), e.g. `EMAIL_3f2a9c0d81b7e645`. The digits depend only on the value
 * and the key, so equal values give equal tokens in every column and every session under
 * the same key (joins and GROUP BY still work) while the value cannot be recomputed
 * without the key.
 */
import { createHmac } from 'node:crypto';
import type { Detector, Finding } from './detector.js';
import { partialMask } from './mask.js';
import type { MaskStrategy, OutputMask } from './plan.js';
import { scan } from './scan.js';

/** The `hash` strategy was asked for without a usable key: it must never fall back silently. */
export class MaskingKeyError extends Error {
  override readonly name = 'MaskingKeyError';
}

/** A label that could break the syntax of the value it is written into. */
export class UnsafeMaskLabelError extends Error {
  override readonly name = 'UnsafeMaskLabelError';
}

/**
 * How a value's text is structured, which decides how findings inside it may be replaced:
 * - `plain`: free text (text, varchar…): anything goes.
 * - `json`: a JSON document; findings outside strings (a card as a JSON number) become
 *   JSON strings, and if the result is not valid JSON the whole document becomes the JSON
 *   string `"[LABEL]"`.
 * - `literal`: a PostgreSQL array or record literal (`{a,"b c"}`, `(1,x)`); a finding that
 *   spans its punctuation masks the whole value to NULL.
 * - `xml`: likewise for XML markup.
 * - `opaque`: text the client decodes as another type (int8, uuid, int8[]…): any finding
 *   makes the whole value NULL, never text the client could not decode.
 */
export type TextSyntax = 'plain' | 'json' | 'literal' | 'xml' | 'opaque';

export interface ValueMaskerOptions {
  readonly detectors: readonly Detector[];
  /** How content findings are masked; `null` makes the whole value NULL. */
  readonly contentStrategy: MaskStrategy;
  /** The `hash` strategy's HMAC key (at least 16 bytes); undefined when none is configured. */
  readonly hashKey: Buffer | undefined;
}

export const MIN_HASH_KEY_BYTES = 16;
const HASH_HEX_DIGITS = 16;
const SAFE_LABEL = /^[A-Z][A-Z0-9_]*$/;
const LITERAL_PUNCTUATION = /[{}(),"\\]/;
const XML_MARKUP = /[<>&"']/;
/** Between values scanned together (a match across it sends the values back to their own scans). */
const VALUE_SEPARATOR = '\n\n';

export class ValueMasker {
  private readonly detectors: readonly Detector[];
  private readonly contentStrategy: MaskStrategy;
  private readonly hashKey: Buffer | undefined;
  private readonly redactOnly: ReadonlySet<string>;
  /** Column-rule labels already checked (few, from configuration). */
  private readonly checkedLabels = new Set<string>();

  constructor(options: ValueMaskerOptions) {
    if (options.hashKey !== undefined && options.hashKey.length < MIN_HASH_KEY_BYTES) {
      throw new MaskingKeyError(`the masking hash key is ${options.hashKey.length} bytes; it must be at least ${MIN_HASH_KEY_BYTES}`);
    }
    if (options.contentStrategy === 'hash' && options.hashKey === undefined) {
      throw new MaskingKeyError('the "hash" masking strategy needs a hash_key; set one on the masking profile or choose another strategy');
    }
    for (const d of options.detectors) this.checkLabel(d.label, `detector "${d.name}"`);
    this.detectors = options.detectors;
    this.contentStrategy = options.contentStrategy;
    this.hashKey = options.hashKey;
    this.redactOnly = new Set(options.detectors.filter((d) => d.redactOnly).map((d) => d.name));
  }

  /**
   * The text with every finding masked by the content strategy; `null` when that strategy
   * is `null`; `undefined` when nothing was found.
   */
  maskContent(text: string): string | null | undefined {
    return this.maskContentIn(text, 'plain');
  }

  /** Like `maskContent`, for a value whose text has the given syntax. */
  maskContentIn(text: string, syntax: TextSyntax): string | null | undefined {
    const findings = this.findings(text);
    if (findings === undefined) return undefined;
    if (this.contentStrategy === 'null' || syntax === 'opaque') return null;
    switch (syntax) {
      case 'plain':
        return this.rewrite(text, findings, this.contentStrategy);
      case 'json':
        return this.rewriteJson(text, findings);
      case 'literal':
        return spansAny(text, findings, LITERAL_PUNCTUATION) ? null : this.rewrite(text, findings, this.contentStrategy);
      case 'xml':
        return spansAny(text, findings, XML_MARKUP) ? null : this.rewrite(text, findings, this.contentStrategy);
    }
  }

  /**
   * Several plain-text values at once (a row's text columns), each masked as `maskContent`
   * would: one scan over them joined, so that short values do not each pay every detector's
   * fixed cost. A finding that would span two values sends each back to its own scan. Context
   * words (e.g. "SSN" before nine digits) may then come from the value before: a row's
   * neighbouring column can only add findings, never hide one.
   */
  maskPlainContents(texts: readonly string[]): Array<string | null | undefined> {
    if (texts.length === 1) return [this.maskContentIn(texts[0]!, 'plain')];
    const out = new Array<string | null | undefined>(texts.length).fill(undefined);
    const findings = this.findings(texts.join(VALUE_SEPARATOR));
    if (findings === undefined) return out;
    const byValue: Finding[][] = texts.map(() => []);
    let value = 0;
    let start = 0;
    for (const f of findings) {
      while (f.start >= start + texts[value]!.length + VALUE_SEPARATOR.length) start += texts[value++]!.length + VALUE_SEPARATOR.length;
      if (f.end > start + texts[value]!.length) return texts.map((t) => this.maskContentIn(t, 'plain'));
      byValue[value]!.push({ ...f, start: f.start - start, end: f.end - start });
    }
    byValue.forEach((own, i) => {
      if (own.length > 0) out[i] = this.contentStrategy === 'null' ? null : this.rewrite(texts[i]!, own, this.contentStrategy);
    });
    return out;
  }

  /**
   * For text that cannot be NULL (error messages, notification payloads): findings masked,
   * the `null` strategy redacting each; `undefined` when nothing was found.
   */
  maskMessageText(text: string): string | undefined {
    const findings = this.findings(text);
    if (findings === undefined) return undefined;
    return this.rewrite(text, findings, this.contentStrategy === 'null' ? 'redact' : this.contentStrategy);
  }

  /** A whole value under a column rule (a `partial` on a derived value redacts). */
  /** False when `maskColumn` does not look at the value (redact, null): callers may skip decoding it. */
  readsValue(output: OutputMask): boolean {
    const { strategy } = output.mask;
    return (strategy === 'partial' && !output.derived) || (strategy === 'hash' && this.hashKey !== undefined);
  }

  maskColumn(text: string, output: OutputMask): string | null {
    const { strategy, label } = output.mask;
    if (!this.checkedLabels.has(label)) this.checkLabel(label, `column rule ${output.mask.rule}`);
    switch (strategy) {
      case 'null':
        return null;
      case 'partial':
        return output.derived ? `[${label}]` : partialMask(text);
      case 'hash':
        // Without a key, the strongest mask rather than a guessable unkeyed hash.
        return this.hashKey === undefined ? `[${label}]` : this.token(text, label, this.hashKey);
      case 'redact':
        return `[${label}]`;
    }
  }

  private findings(text: string): Finding[] | undefined {
    // Every finding is a non-empty span, so empty text (common: '' columns) has none.
    if (text.length === 0) return undefined;
    const findings = scan(text, this.detectors);
    return findings.length === 0 ? undefined : findings;
  }

  /** `quoted(f)` says whether finding f's replacement must be written as a JSON string. */
  private rewrite(text: string, findings: readonly Finding[], strategy: MaskStrategy, quoted: (f: Finding) => boolean = () => false): string {
    let out = '';
    let at = 0;
    for (const f of findings) {
      const replacement = this.replacement(text.slice(f.start, f.end), f, strategy);
      out += text.slice(at, f.start) + (quoted(f) ? `"${replacement}"` : replacement);
      at = f.end;
    }
    return out + text.slice(at);
  }

  private replacement(value: string, f: Finding, strategy: MaskStrategy): string {
    switch (strategy) {
      case 'partial':
        // A backslash may open an escape in the value's syntax (JSON's `\n`); starring the
        // letter after it would break the escape, so such values are redacted.
        return this.redactOnly.has(f.detector) || value.includes('\\') ? `[${f.label}]` : partialMask(value);
      case 'hash':
        return this.hashKey === undefined ? `[${f.label}]` : this.token(value, f.label, this.hashKey);
      case 'redact':
      case 'null':
        return `[${f.label}]`;
    }
  }

  private rewriteJson(text: string, findings: readonly Finding[]): string {
    const spans = findings.map((f) => outsideJsonEscapes(text, f));
    const strings = jsonStringContents(text);
    let s = 0;
    const masked = this.rewrite(text, spans, this.contentStrategy, (f) => {
      while (s < strings.length && strings[s]![1] <= f.start) s++;
      const inside = s < strings.length && strings[s]![0] <= f.start && f.end <= strings[s]![1];
      return !inside;
    });
    return validJson(masked) ? masked : JSON.stringify(`[${findings[0]!.label}]`);
  }

  private token(value: string, label: string, key: Buffer): string {
    return `${label}_${createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, HASH_HEX_DIGITS)}`;
  }

  private checkLabel(label: string, owner: string): void {
    if (!SAFE_LABEL.test(label)) {
      throw new UnsafeMaskLabelError(`the mask label "${label}" of ${owner} must be upper-case letters, digits and "_", starting with a letter`);
    }
    this.checkedLabels.add(label);
  }
}

function spansAny(text: string, findings: readonly Finding[], punctuation: RegExp): boolean {
  return findings.some((f) => punctuation.test(text.slice(f.start, f.end)));
}

/**
 * A finding whose span starts on the letter of an escape (`\\n` before an email: the
 * email's pattern begins at `n`) or ends on an escaping backslash, moved so that the
 * escape stays whole outside or inside it.
 */
function outsideJsonEscapes(text: string, f: Finding): Finding {
  const escapeRest = (at: number): number => (text[at] === 'u' ? 5 : 1);
  const start = escapedAt(text, f.start) ? f.start + escapeRest(f.start) : f.start;
  const end = escapedAt(text, f.end) ? f.end + escapeRest(f.end) : f.end;
  // A span that lies within one escape is left as it is: the JSON check below then decides.
  return (start === f.start && end === f.end) || start >= end ? f : { ...f, start, end };
}

/** True when the character at `at` follows an odd run of backslashes (it is escaped). */
function escapedAt(text: string, at: number): boolean {
  let run = 0;
  while (at - run - 1 >= 0 && text.charCodeAt(at - run - 1) === 0x5c) run++;
  return run % 2 === 1;
}

/** [start, end) of every JSON string's content (between its quotes), in order. */
function jsonStringContents(text: string): Array<readonly [number, number]> {
  const spans: Array<readonly [number, number]> = [];
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (start < 0) {
      if (c === 0x22) start = i + 1;
    } else if (c === 0x5c) i++;
    else if (c === 0x22) {
      spans.push([start, i]);
      start = -1;
    }
  }
  return spans;
}

function validJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
