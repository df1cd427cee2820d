import { ProtocolError } from './errors.js';

/**
 * One complete wire message. `raw` is the whole frame (type byte, length, body) and
 * `body` the part after the length; both are views into the received bytes, not copies.
 * Startup-phase frames have no type byte: `type` is 0 and `raw` starts at the length.
 */
export interface Frame {
  readonly type: number;
  readonly body: Buffer;
  readonly raw: Buffer;
}

/** PostgreSQL's own limit on startup-phase packets (MAX_STARTUP_PACKET_LENGTH). */
const MAX_STARTUP_PACKET_BYTES = 10_000;

/**
 * Reassembles frames from arbitrary TCP chunks. Pure: bytes in, frames out.
 * A frame that spans chunks is copied once, when it is complete, so a large frame
 * arriving in many reads costs O(size), not O(size²).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Offset of the first unread byte in chunks[0]. */
  private offset = 0;
  private startupPhase: boolean;
  /** Frames of the `count` type in the last run `takeRun` returned, and their total size. */
  lastRunCount = 0;
  lastRunCountBytes = 0;

  constructor(
    private maxFrameBytes: number,
    options: { startup?: boolean } = {},
  ) {
    this.startupPhase = options.startup ?? false;
  }

  /** Change the frame size limit for frames not yet returned (e.g. a tighter one before authentication). */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** After the startup packet, frames carry a type byte. */
  endStartupPhase(): void {
    this.startupPhase = false;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Puts a frame `next()` returned back in front, to be returned again (the caller set it aside). */
  unshift(frame: Frame): void {
    if (this.offset > 0) {
      this.chunks[0] = this.chunks[0]!.subarray(this.offset);
      this.offset = 0;
    }
    this.chunks.unshift(frame.raw);
    this.buffered += frame.raw.length;
  }

  /** Bytes received but not yet returned as a frame (a partial frame). */
  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * The longest run of complete frames at the front of the current chunk whose types are
   * not flagged in `stop`, as one view (no Frame objects, no copy), or null when the next
   * frame is a stop type, incomplete, or has an invalid length — `next()` then handles it
   * (and reports any error exactly as it always does). The relay's fast path: frames it
   * only forwards need no decoding. Frames of type `count` in the run are counted into
   * `lastRunCount`/`lastRunCountBytes` (e.g. result rows, without decoding them).
   */
  takeRun(stop: Uint8Array, count = -1): Buffer | null {
    this.lastRunCount = 0;
    this.lastRunCountBytes = 0;
    if (this.startupPhase || this.chunks.length === 0) return null;
    const first = this.chunks[0]!;
    const start = this.offset;
    let pos = start;
    while (first.length - pos >= 5) {
      const type = first[pos]!;
      const length = first.readInt32BE(pos + 1);
      if (stop[type] === 1 || length < 4 || length > this.maxFrameBytes || first.length - pos < length + 1) break;
      if (type === count) {
        this.lastRunCount++;
        this.lastRunCountBytes += length + 1;
      }
      pos += length + 1;
    }
    if (pos === start) return null;
    this.buffered -= pos - start;
    if (pos === first.length) {
      this.chunks.shift();
      this.offset = 0;
    } else {
      this.offset = pos;
    }
    return first.subarray(start, pos);
  }

  /** The next complete frame, or null until more bytes arrive. Throws ProtocolError. */
  next(): Frame | null {
    const headerSize = this.startupPhase ? 4 : 5;
    if (this.buffered < headerSize) return null;
    const first = this.chunks[0]!;
    const avail = first.length - this.offset;
    let type: number;
    let length: number;
    if (avail >= headerSize) {
      type = this.startupPhase ? 0 : first[this.offset]!;
      length = first.readInt32BE(this.offset + headerSize - 4);
    } else {
      const header = this.peek(headerSize);
      type = this.startupPhase ? 0 : header[0]!;
      length = header.readInt32BE(headerSize - 4);
    }
    const lengthFloor = this.startupPhase ? 8 : 4;
    if (length < lengthFloor) {
      throw new ProtocolError(`invalid message length ${length} (type ${describeType(type)})`);
    }
    if (this.startupPhase && length > MAX_STARTUP_PACKET_BYTES) {
      // Not "message too large": a bigger first packet is not a PostgreSQL client (an HTTP request, a TLS hello…).
      throw new ProtocolError(
        `invalid startup packet length ${length}: a startup packet is at most ${MAX_STARTUP_PACKET_BYTES} bytes; is this a PostgreSQL client?`,
      );
    }
    if (length > this.maxFrameBytes) {
      throw new ProtocolError(
        `message of ${length} bytes (type ${describeType(type)}) exceeds the limit of ${this.maxFrameBytes} bytes`,
        '54000',
      );
    }
    const total = length + headerSize - 4;
    if (this.buffered < total) return null;
    let raw: Buffer;
    if (avail >= total) {
      raw = first.subarray(this.offset, this.offset + total);
      this.offset += total;
      this.buffered -= total;
      if (this.offset === first.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    } else {
      raw = this.take(total);
    }
    return { type, body: raw.subarray(headerSize), raw };
  }

  /** Copy of the first n buffered bytes without consuming them. */
  private peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    let off = this.offset;
    for (const c of this.chunks) {
      written += c.copy(out, written, off, Math.min(c.length, off + n - written));
      off = 0;
      if (written === n) break;
    }
    return out;
  }

  /** Consume n bytes spanning chunks into one new buffer. */
  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const c = this.chunks[0]!;
      const copied = c.copy(out, written, this.offset, Math.min(c.length, this.offset + n - written));
      written += copied;
      this.offset += copied;
      if (this.offset === c.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    this.buffered -= n;
    return out;
  }
}

function describeType(type: number): string {
  if (type === 0) return 'startup';
  return type >= 0x20 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16)}`;
}

/** A stop set for `takeRun`: the message types that must be looked at one by one. */
export function frameTypeSet(types: readonly number[]): Uint8Array {
  const set = new Uint8Array(256);
  for (const t of types) set[t] = 1;
  return set;
}
