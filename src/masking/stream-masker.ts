/**
 * Masks command output (an SSH channel's stdout or stderr) while it streams. The output
 * arrives in chunks cut anywhere — inside a card number, a token, a UTF-8 character — so
 * each push scans what is held back together with some of what was already released, and
 * releases only the part that later bytes can no longer change:
 *
 * - the last `holdBytes` are always held back (unless flushed), so a value shorter than that
 *   is seen whole before any of it leaves, and a detector's look-ahead (a card must not run
 *   on into more digits) sees what follows;
 * - the cut between released and held text never falls inside a finding (it moves back to
 *   the finding's start), nor inside a word — a run of non-space characters — that is still
 *   open at the end of what has arrived, up to `maxBlockBytes`: tokens such as JWTs are often
 *   longer than `holdBytes`, and the rest of one decides whether it is a JWT at all;
 * - a private-key block (`-----BEGIN … PRIVATE KEY-----` … `-----END … PRIVATE KEY-----`),
 *   when the policy's detectors include `private-key`, is held from its BEGIN line until its
 *   END line, up to `maxBlockBytes`. Past that, or when flushed while open, it fails closed:
 *   `[SECRET]` is released in its place and everything up to the END line is dropped;
 * - the last released text (longer than every detector's context window) is kept as
 *   look-behind, scanned again but never re-emitted, so context words ("secret", "SSN",
 *   "phone") and left edges (an email's local part) count across chunk boundaries.
 *
 * So when the stream is flushed only at its end, the output equals the whole output masked
 * at once (`maskWholeOutput`), whatever the chunking — for values shorter than `holdBytes`,
 * words shorter than `maxBlockBytes` and key blocks shorter than `maxBlockBytes`. A flush
 * releases everything held, so a value that straddles a flush (interactive output paused
 * mid-value) is not guaranteed to be masked: its part before the flush goes out as it was;
 * the rest is redacted when the look-behind shows it completes a value. An unterminated
 * BEGIN line still open at a flush is redacted although the one-shot masker, which needs the
 * END line, would leave it.
 *
 * Bytes. Chunks are arbitrary bytes, and what is not masked must pass through exactly, while
 * the detectors and replacements work on Unicode text (a hash token is an HMAC of the value's
 * UTF-8, `partial` keeps letters by code point, a phone label may be "téléphone"). Decoding
 * as latin1 would map bytes 1:1 but make every non-ASCII value mask differently from the
 * one-shot masker (and could cut a character in half); decoding as UTF-8 would turn invalid
 * bytes into U+FFFD for good. So valid UTF-8 is decoded as such, an incomplete character at
 * the end of a chunk waits for the next chunk, and every byte that is not part of a valid
 * character becomes a lone low surrogate U+DC80–U+DCFF (no detector reads one as a letter,
 * digit or space), which `encode` turns back into that byte.
 *
 * Work and memory. Held bytes stay within `holdBytes + maxBlockBytes` plus the chunk being
 * pushed (and the start of a finding a held word or key block begins inside, if any); the
 * look-behind is a few hundred characters. A push scans the look-behind and the
 * held text — at most once per `holdBytes` of new input, and not at all while it only waits
 * for the end of a word or a key block (then it searches just the new text for it) — so the
 * cost per byte does not grow with the stream.
 */
import { isUtf8 } from 'node:buffer';
import type { Detector, Finding } from './detector.js';
import type { MaskStrategy } from './plan.js';
import { scan } from './scan.js';
import { privateKeyDetector } from './secrets.js';
import { ValueMasker, type ValueMaskerOptions } from './value-masker.js';

export interface StreamMaskerOptions {
  /** Bytes kept back at the end of what was scanned so a value split across chunks is seen whole next time (default 512, at least 64). */
  readonly holdBytes?: number;
  /** Longest private-key (PEM) block, or open word, held back whole; a longer key block is redacted outright (default 64 KiB). */
  readonly maxBlockBytes?: number;
}

export class StreamMaskerOptionsError extends Error {
  override readonly name = 'StreamMaskerOptionsError';
}

export const DEFAULT_HOLD_BYTES = 512;
export const DEFAULT_MAX_BLOCK_BYTES = 64 * 1024;
/** Room for the longest BEGIN line and for the look-ahead of a card, an IBAN or a phone number. */
export const MIN_HOLD_BYTES = 64;

const EMPTY = Buffer.alloc(0);
/** Look-behind beyond the longest context window a detector declares: labels, an email's local part, a key's name. */
const LOOK_BEHIND_MARGIN = 256;
/** The armour lines of privateKeyDetector's pattern. Shared: `lastIndex` is set before every `exec`. */
const KEY_BEGIN = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g;
const KEY_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/g;
/** An END line split across pushes is looked for again from this far back. */
const MARKER_OVERLAP = 128;
const WORD_BREAK = /[\t\n\v\f\r ]/g;
const ESCAPED_BYTE = /[\uDC80-\uDCFF]/;
/** Named in maskColumn's errors only, which cannot happen for the detectors' checked labels. */
const STREAM_RULE = 'content detectors (stream)';

/**
 * A ValueMasker for byte streams, which have no NULL: the `null` content strategy is read as
 * `redact`. Its rules stay readable because the stream masker scans with them itself (it
 * decides where chunks may be cut). `maskContent` of the whole output is what a stream
 * flushed only at its end gives.
 */
export class StreamValueMasker extends ValueMasker {
  readonly rules: ValueMaskerOptions & { readonly contentStrategy: Exclude<MaskStrategy, 'null'> };

  /** Throws MaskingKeyError or UnsafeMaskLabelError as ValueMasker does. */
  constructor(rules: ValueMaskerOptions) {
    const own = { detectors: rules.detectors, contentStrategy: rules.contentStrategy === 'null' ? 'redact' : rules.contentStrategy, hashKey: rules.hashKey } as const;
    super(own);
    this.rules = own;
  }
}

/** The stream masker's ValueMasker for a masking policy (or any detectors, strategy and key). */
export function streamValueMasker(policy: ValueMaskerOptions): StreamValueMasker {
  return new StreamValueMasker(policy);
}

/** What a push is waiting for before scanning again: whitespace ending a word, or a key's END line. */
interface Wait {
  readonly kind: 'word' | 'key';
  /** Where the word or key starts in `pending`. */
  readonly from: number;
  /** Bytes of `pending` before `from`. */
  readonly bytesBefore: number;
  /** How far `pending` has been searched. */
  searchedTo: number;
}

export class StreamMasker {
  private readonly detectors: readonly Detector[];
  private readonly strategy: Exclude<MaskStrategy, 'null'>;
  private readonly redactOnly: ReadonlySet<string>;
  /** The policy's private-key detector: key blocks are held whole only when it is there. */
  private readonly keyDetector: Detector | undefined;
  private readonly holdBytes: number;
  private readonly maxBlockBytes: number;
  private readonly lookBehind: number;

  /** The start of a UTF-8 character whose remaining bytes have not arrived. */
  private incomplete: Buffer = EMPTY;
  /** Released text (as it was, not masked), scanned again as look-behind. */
  private context = '';
  /** Decoded text not released yet, and its size in input bytes. */
  private pending = '';
  private pendingBytes = 0;
  private scanAt: number;
  private wait: Wait | undefined;
  /** A word past maxBlockBytes is being released as it comes; set until a word break arrives. */
  private inLongWord = false;
  /** Set while a key block is being dropped up to its END line: the last text searched for it. */
  private keyTail: string | undefined;

  /** Throws StreamMaskerOptionsError for sizes out of range. */
  constructor(
    private readonly masker: StreamValueMasker,
    options: StreamMaskerOptions = {},
  ) {
    this.holdBytes = checkedSize('holdBytes', options.holdBytes ?? DEFAULT_HOLD_BYTES, MIN_HOLD_BYTES);
    this.maxBlockBytes = checkedSize('maxBlockBytes', options.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES, 0);
    const { rules } = masker;
    this.detectors = rules.detectors;
    this.strategy = rules.contentStrategy;
    this.redactOnly = new Set(rules.detectors.filter((d) => d.redactOnly).map((d) => d.name));
    this.keyDetector = rules.detectors.find((d) => d.name === privateKeyDetector.name);
    const contextWindows = rules.detectors.flatMap((d) => d.rules.map((r) => ('pattern' in r ? (r.context?.before ?? 0) : 0)));
    this.lookBehind = LOOK_BEHIND_MARGIN + Math.max(0, ...contextWindows);
    this.scanAt = 2 * this.holdBytes;
  }

  /** Input bytes held back (the caller arms a flush timer when > 0). */
  get held(): number {
    return this.keyTail === undefined ? this.pendingBytes + this.incomplete.length : 0;
  }

  /** Masks what can be released now; returns those bytes (maybe none). */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return EMPTY;
    let { text, bytes } = this.decode(chunk, false);
    if (this.keyTail !== undefined) {
      const rest = this.afterKeyEnd(text);
      if (rest === undefined) return EMPTY;
      text = rest;
      bytes = utf8Length(rest, 0, rest.length);
    }
    this.pending += text;
    this.pendingBytes += bytes;
    if (this.inLongWord && indexOfBreak(text, 0) >= 0) this.inLongWord = false;
    if (this.wait !== undefined) {
      const state = this.waitState(this.wait);
      if (state === 'waiting') return EMPTY;
      if (state === 'over') return this.release(false);
    }
    if (this.pendingBytes < this.scanAt && this.pendingBytes <= this.holdBytes + this.maxBlockBytes) return EMPTY;
    return this.release(false);
  }

  /** Releases everything held, masked (a flush interval elapsed, or the stream ended). */
  flush(): Buffer {
    if (this.keyTail !== undefined) return EMPTY;
    const { text, bytes } = this.decode(EMPTY, true);
    this.pending += text;
    this.pendingBytes += bytes;
    if (this.pending.length === 0) {
      this.wait = undefined;
      this.inLongWord = false;
      return EMPTY;
    }
    return this.release(true);
  }

  private decode(chunk: Buffer, final: boolean): { text: string; bytes: number } {
    const input = this.incomplete.length === 0 ? chunk : Buffer.concat([this.incomplete, chunk]);
    const [text, rest] = decodeEscaped(input, final);
    // A copy: the caller may reuse its buffer.
    this.incomplete = rest === 0 ? EMPTY : Buffer.from(input.subarray(input.length - rest));
    return { text, bytes: input.length - rest };
  }

  /** While a key is being dropped: the text after its END line, or undefined while there is none yet. */
  private afterKeyEnd(text: string): string | undefined {
    const searched = this.keyTail + text;
    KEY_END.lastIndex = 0;
    const end = KEY_END.exec(searched);
    if (end === null) {
      this.keyTail = searched.slice(-MARKER_OVERLAP);
      return undefined;
    }
    this.keyTail = undefined;
    return searched.slice(end.index + end[0].length);
  }

  private waitState(wait: Wait): 'waiting' | 'done' | 'over' {
    let done: boolean;
    if (wait.kind === 'word') done = indexOfBreak(this.pending, wait.searchedTo) >= 0;
    else {
      KEY_END.lastIndex = Math.max(wait.from, wait.searchedTo - MARKER_OVERLAP);
      done = KEY_END.exec(this.pending) !== null;
    }
    if (done || this.pendingBytes - wait.bytesBefore > this.maxBlockBytes) {
      this.wait = undefined;
      return done ? 'done' : 'over';
    }
    wait.searchedTo = this.pending.length;
    return 'waiting';
  }

  /** Scans look-behind and held text, releases what is settled (`final`: everything), masked. */
  private release(final: boolean): Buffer {
    const ctxLen = this.context.length;
    const window = this.context + this.pending;
    const len = window.length;
    const findings = scan(window, this.detectors);
    // Every held code unit is one byte (ASCII or an escaped byte): positions are byte counts.
    const ascii = this.pendingBytes === this.pending.length;
    const bytes = (from: number, to: number): number => (ascii ? to - from : utf8Length(window, from, to));

    let cut = final ? len : cutBeforeTrailingBytes(window, ctxLen, this.holdBytes, ascii);
    let waitKind: Wait['kind'] | undefined;
    let waitFrom = 0;
    if (!final && !this.inLongWord && cut < len && !isBreak(window.charCodeAt(cut)) && cut > 0 && !isBreak(window.charCodeAt(cut - 1)) && indexOfBreak(window, cut) < 0) {
      // The cut is inside the word still arriving: hold all of it, unless it is too long to.
      const start = Math.max(ctxLen, wordStart(window, cut));
      if (bytes(start, len) <= this.maxBlockBytes) {
        cut = start;
        waitKind = 'word';
        waitFrom = start;
      } else this.inLongWord = true;
    }
    const key = this.keyDetector === undefined ? undefined : openKey(window, ctxLen);
    const overflow = key !== undefined && (final || bytes(key.start, len) > this.maxBlockBytes);
    if (key !== undefined) {
      // A word still arriving always lies after the BEGIN line (which has spaces), so the key decides.
      cut = overflow ? key.start : Math.min(cut, key.start);
      waitKind = overflow ? undefined : 'key';
      waitFrom = key.start;
    }
    const around = findings.find((f) => f.start < cut && cut < f.end);
    if (around !== undefined) {
      // A complete key block cannot grow (it ends at its first END line): release it whole.
      cut = around.detector === this.keyDetector?.name ? around.end : Math.max(ctxLen, around.start);
    }

    let out = this.maskSegment(window, ctxLen, cut, findings);
    if (overflow && key !== undefined && this.keyDetector !== undefined) {
      out += `[${this.keyDetector.label}]`;
      this.keyTail = window.slice(Math.max(key.end, len - MARKER_OVERLAP));
      this.context = '';
      this.pending = '';
      this.pendingBytes = 0;
      this.wait = undefined;
    } else {
      this.pendingBytes -= bytes(ctxLen, cut);
      this.context = window.slice(Math.max(0, cut - this.lookBehind), cut);
      this.pending = window.slice(cut);
      this.wait =
        waitKind === undefined
          ? undefined
          : { kind: waitKind, from: Math.max(0, waitFrom - cut), bytesBefore: waitFrom > cut ? bytes(cut, waitFrom) : 0, searchedTo: this.pending.length };
    }
    if (final) this.inLongWord = false;
    this.scanAt = Math.max(this.pendingBytes, this.holdBytes) + this.holdBytes;
    return out.length === 0 ? EMPTY : encode(out);
  }

  /** window[ctxLen, cut) with its findings masked; findings wholly in the look-behind were released already. */
  private maskSegment(window: string, ctxLen: number, cut: number, findings: readonly Finding[]): string {
    let out = '';
    let at = ctxLen;
    for (const f of findings) {
      if (f.end <= ctxLen) continue;
      // Only one begun in released text can reach past the cut (which then stays at ctxLen): it is not released yet.
      if (f.start >= cut || f.end > cut) break;
      // Begun in released text (only a value longer than the hold can be): what is left of it is redacted.
      const replacement = f.start < ctxLen ? `[${f.label}]` : this.replacement(window.slice(f.start, f.end), f);
      out += window.slice(at, Math.max(at, f.start)) + replacement;
      at = f.end;
    }
    return out + window.slice(at, cut);
  }

  /** What ValueMasker.maskContent writes for a finding (its partial falls back to redact likewise). */
  private replacement(value: string, f: Finding): string {
    const strategy = this.strategy === 'partial' && (this.redactOnly.has(f.detector) || value.includes('\\')) ? 'redact' : this.strategy;
    return this.masker.maskColumn(value, { mask: { strategy, label: f.label, rule: STREAM_RULE }, derived: false, source: '' }) ?? `[${f.label}]`;
  }
}

/**
 * A whole command output masked at once, unmasked bytes as they were: what a StreamMasker
 * flushed only at the end releases (but for an unterminated BEGIN line, which it redacts).
 */
export function maskWholeOutput(masker: StreamValueMasker, output: Buffer): Buffer {
  const [text] = decodeEscaped(output, true);
  const masked = masker.maskContent(text) ?? undefined;
  return masked === undefined ? output : encode(masked);
}

function checkedSize(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) throw new StreamMaskerOptionsError(`${name} must be a whole number of bytes, at least ${min}; got ${value}`);
  return value;
}

function isBreak(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function indexOfBreak(text: string, from: number): number {
  WORD_BREAK.lastIndex = from;
  return WORD_BREAK.exec(text)?.index ?? -1;
}

function wordStart(text: string, at: number): number {
  let i = at;
  while (i > 0 && !isBreak(text.charCodeAt(i - 1))) i--;
  return i;
}

/** The first BEGIN line after the last END line, if any; its start no earlier than `from` (it may have begun in released text). */
function openKey(window: string, from: number): { start: number; end: number } | undefined {
  if (!window.includes('-----BEGIN ')) return undefined;
  let afterEnds = 0;
  KEY_END.lastIndex = 0;
  for (let end = KEY_END.exec(window); end !== null; end = KEY_END.exec(window)) afterEnds = end.index + end[0].length;
  KEY_BEGIN.lastIndex = afterEnds;
  const begin = KEY_BEGIN.exec(window);
  return begin === null ? undefined : { start: Math.max(from, begin.index), end: begin.index + begin[0].length };
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** UTF-8 bytes of one code unit that is not part of a surrogate pair (an escaped byte is one). */
function unitBytes(c: number): number {
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  return c >= 0xdc80 && c <= 0xdcff ? 1 : 3;
}

/** The input bytes text[from, to) was decoded from. */
function utf8Length(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (isHigh(c) && i + 1 < to && isLow(text.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += unitBytes(c);
  }
  return n;
}

/** The position (not before `from`) after which at least `hold` bytes of text remain, never inside a surrogate pair. */
function cutBeforeTrailingBytes(text: string, from: number, hold: number, ascii: boolean): number {
  if (ascii) return Math.max(from, text.length - hold);
  let i = text.length;
  let n = 0;
  while (i > from && n < hold) {
    const c = text.charCodeAt(i - 1);
    if (isLow(c) && i - 2 >= from && isHigh(text.charCodeAt(i - 2))) {
      n += 4;
      i -= 2;
    } else {
      n += unitBytes(c);
      i--;
    }
  }
  return i;
}

/**
 * The length of the UTF-8 character starting at `i`: its byte count when complete and valid
 * (no overlong forms, surrogates or code points past U+10FFFF), -1 when the bytes before
 * `end` are a valid start of one, 0 when it is not valid.
 */
function sequenceAt(bytes: Buffer, i: number, end: number): number {
  const lead = bytes[i]!;
  if (lead < 0x80) return 1;
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) need = 1;
  else if (lead >= 0xe0 && lead <= 0xef) {
    need = 2;
    if (lead === 0xe0) lo = 0xa0;
    else if (lead === 0xed) hi = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    need = 3;
    if (lead === 0xf0) lo = 0x90;
    else if (lead === 0xf4) hi = 0x8f;
  } else return 0;
  for (let k = 1; k <= need; k++) {
    if (i + k >= end) return -1;
    const c = bytes[i + k]!;
    if (c < lo || c > hi) return 0;
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

/**
 * Bytes at the end that start a character yet to be completed. Such a start is a lead byte,
 * never a continuation, so whatever comes before it decodes the same once the rest arrives.
 */
function incompleteTail(bytes: Buffer): number {
  for (let i = Math.max(0, bytes.length - 3); i < bytes.length; i++) {
    if (bytes[i]! >= 0xc2 && sequenceAt(bytes, i, bytes.length) === -1) return bytes.length - i;
  }
  return 0;
}

/** [text, bytes left undecoded at the end]: valid UTF-8 as text, any other byte b as U+DC00+b. */
function decodeEscaped(bytes: Buffer, final: boolean): [string, number] {
  if (isUtf8(bytes)) return [bytes.toString('utf8'), 0];
  const rest = final ? 0 : incompleteTail(bytes);
  const end = bytes.length - rest;
  if (rest > 0 && isUtf8(bytes.subarray(0, end))) return [bytes.toString('utf8', 0, end), rest];
  let text = '';
  let run = 0;
  for (let i = 0; i < end; ) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 1 : sequenceAt(bytes, i, end);
    if (n > 0) {
      i += n;
      continue;
    }
    text += bytes.toString('utf8', run, i) + String.fromCharCode(0xdc00 + b);
    run = ++i;
  }
  return [text + bytes.toString('utf8', run, end), rest];
}

/** The bytes of decoded (and masked) text: escaped bytes as themselves, everything else as UTF-8. */
function encode(text: string): Buffer {
  if (!ESCAPED_BYTE.test(text)) return Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(text.length * 3);
  let n = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc80 || c > 0xdcff || (i > 0 && isHigh(text.charCodeAt(i - 1)))) continue;
    n += out.write(text.slice(run, i), n, 'utf8');
    out[n++] = c - 0xdc00;
    run = i + 1;
  }
  n += out.write(text.slice(run), n, 'utf8');
  return out.subarray(0, n);
}
