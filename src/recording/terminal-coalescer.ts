/**
 * Turns the many small writes of an SSH terminal into few recorded events: consecutive data
 * of one operation and code is kept together, with each piece's offset from the operation's
 * first terminal event, so replay keeps the pacing while the chain gets one event per burst
 * instead of one per packet. Bounded: one event waits at most TERMINAL_FLUSH_MS and holds at
 * most TERMINAL_FLUSH_CHARS; an operation's recorded output and input stop at `maxBytes`,
 * and what is not recorded beyond it is counted and recorded as an `omitted` event.
 */
import type { TerminalCode, TerminalDataEvent, TerminalOmittedEvent } from './recorder.js';
import { TERMINAL_CODES } from './terminal-event.js';

/** A waiting event is written this long after its first piece, at the latest. */
export const TERMINAL_FLUSH_MS = 100;
/** A waiting event holding this many characters is written at once (and longer data is split). */
export const TERMINAL_FLUSH_CHARS = 65_536;
/** Pieces closer than this are merged into one: finer pacing is not worth the bytes. */
export const TERMINAL_MERGE_MS = 10;
/** Output and input recorded per operation, by default (UTF-8 bytes). */
export const DEFAULT_MAX_TERMINAL_BYTES = 1_048_576;
/** Operations whose terminal state is kept; beyond it the oldest finished ones are forgotten. */
const MAX_TRACKED_OPERATIONS = 1024;

export type TerminalRecord = Omit<TerminalDataEvent, 'sessionId'> | Omit<TerminalOmittedEvent, 'sessionId'>;

export interface TerminalCoalescerOptions {
  /** Bytes of output and input recorded per operation; at least 0. */
  readonly maxBytes: number;
  /** Epoch ms. */
  readonly now: () => number;
  /** Records one coalesced event; must not throw. */
  readonly write: (record: TerminalRecord) => void;
}

interface OperationState {
  readonly start: number;
  /** Output and input bytes recorded. */
  bytes: number;
  /** Bytes not recorded (over the limit) and not yet reported in an `omitted` event. */
  omitted: number;
  /** Offset of the first of them. */
  omittedAt: number;
  exited: boolean;
}

interface Pending {
  readonly operationSeq: number;
  readonly code: TerminalCode;
  readonly start: number;
  readonly pieces: [number, string][];
  chars: number;
}

export class TerminalCoalescer {
  private readonly operations = new Map<number, OperationState>();
  private pending: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: TerminalCoalescerOptions) {
    if (!(Number.isSafeInteger(options.maxBytes) && options.maxBytes >= 0)) throw new RangeError(`maxTerminalBytes must be a whole number of bytes, got ${options.maxBytes}`);
  }

  /** Adds what one operation's terminal showed; an exit status (`x`) also reports what was not recorded and writes at once. */
  add(operationSeq: number, code: TerminalCode, data: string): void {
    if (!TERMINAL_CODES.includes(code) || typeof data !== 'string') throw new TypeError(`not terminal data: code ${JSON.stringify(code)}`);
    const now = this.options.now();
    const operation = this.operation(operationSeq, now);
    const offset = Math.max(0, now - operation.start);
    let text = data;
    if (code === 'o' || code === 'i') {
      if (text === '') return;
      text = this.withinLimit(operation, text, offset);
      if (text === '') return;
    }
    if (this.pending !== undefined && (this.pending.operationSeq !== operationSeq || this.pending.code !== code)) this.flush();
    if (code === 'x') {
      this.report(operationSeq);
      operation.exited = true;
      this.pending = { operationSeq, code, start: operation.start, pieces: [[offset, text]], chars: text.length };
      this.flush();
      return;
    }
    this.append(operationSeq, code, operation.start, offset, text);
  }

  /** Writes the waiting event, if any. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    this.options.write({ operationSeq: pending.operationSeq, start: pending.start, code: pending.code, pieces: pending.pieces });
  }

  /**
   * Writes the waiting event, then an `omitted` event for what was not recorded of one
   * operation (or of every operation): at its outcome, and at the session's end.
   */
  finish(operationSeq?: number): void {
    this.flush();
    if (operationSeq !== undefined) this.report(operationSeq);
    else for (const seq of this.operations.keys()) this.report(seq);
  }

  private operation(operationSeq: number, now: number): OperationState {
    let operation = this.operations.get(operationSeq);
    if (operation === undefined) {
      operation = { start: now, bytes: 0, omitted: 0, omittedAt: 0, exited: false };
      this.operations.set(operationSeq, operation);
      if (this.operations.size > MAX_TRACKED_OPERATIONS) this.forgetFinished();
    }
    return operation;
  }

  /** The part of `text` that fits the operation's limit (whole characters); counts the rest as omitted. */
  private withinLimit(operation: OperationState, text: string, offset: number): string {
    const size = Buffer.byteLength(text, 'utf8');
    const room = this.options.maxBytes - operation.bytes;
    let kept = text;
    let keptBytes = size;
    if (size > room) {
      kept = utf8Prefix(text, room);
      keptBytes = Buffer.byteLength(kept, 'utf8');
      if (operation.omitted === 0) operation.omittedAt = offset;
      operation.omitted += size - keptBytes;
    }
    operation.bytes += keptBytes;
    return kept;
  }

  private append(operationSeq: number, code: TerminalCode, start: number, offset: number, text: string): void {
    let rest = text;
    while (rest !== '') {
      this.pending ??= { operationSeq, code, start, pieces: [], chars: 0 };
      const pending = this.pending;
      const room = TERMINAL_FLUSH_CHARS - pending.chars;
      const piece = rest.length <= room ? rest : rest.slice(0, splitAt(rest, room));
      if (piece === '') {
        // Only half a surrogate pair would fit: the pair goes into the next event.
        this.flush();
        continue;
      }
      rest = rest.slice(piece.length);
      const last = pending.pieces[pending.pieces.length - 1];
      if (last !== undefined && offset - last[0] < TERMINAL_MERGE_MS) {
        // A newer size replaces one set moments before; output and input run on.
        last[1] = code === 'r' ? piece : last[1] + piece;
      } else {
        pending.pieces.push([offset, piece]);
      }
      pending.chars += piece.length;
      if (pending.chars >= TERMINAL_FLUSH_CHARS) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), TERMINAL_FLUSH_MS);
    }
  }

  /** Records how many bytes of the operation were not recorded since the last report, if any. */
  private report(operationSeq: number): void {
    const operation = this.operations.get(operationSeq);
    if (operation === undefined || operation.omitted === 0) return;
    const record: TerminalRecord = {
      operationSeq,
      start: operation.start,
      code: 'omitted',
      offsetMs: operation.omittedAt,
      omittedBytes: operation.omitted,
      limitBytes: this.options.maxBytes,
    };
    operation.omitted = 0;
    this.options.write(record);
  }

  private forgetFinished(): void {
    for (const [seq, operation] of this.operations) {
      if (this.operations.size <= MAX_TRACKED_OPERATIONS) return;
      if (operation.exited && operation.omitted === 0 && this.pending?.operationSeq !== seq) this.operations.delete(seq);
    }
  }
}

/** The longest prefix of `text` that is at most `bytes` UTF-8 bytes, cut between characters. */
export function utf8Prefix(text: string, bytes: number): string {
  if (bytes <= 0) return '';
  const encoded = Buffer.from(text, 'utf8');
  if (encoded.length <= bytes) return text;
  let end = bytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the character cut in two.
  while (end > 0 && ((encoded[end] as number) & 0xc0) === 0x80) end--;
  return encoded.subarray(0, end).toString('utf8');
}

/** `at`, or one less so a surrogate pair is not cut in two (0 when only its first half would fit). */
function splitAt(text: string, at: number): number {
  const code = text.charCodeAt(at - 1);
  return code >= 0xd800 && code <= 0xdbff ? at - 1 : at;
}
