/**
 * Counts what a PostgreSQL backend stream carries without holding it: bytes, DataRow and
 * CopyData messages, the rows inside the CopyData, and how often each of a few marker
 * strings occurs anywhere in the bytes (the leak check). Pure: chunks in, counts out.
 *
 * Results stream through here unparsed — only the 5-byte message headers are read — so a
 * 10-million-row result costs the client little and the bench measures the server side.
 * Every message other than DataRow and CopyData is small (RowDescription, CommandComplete,
 * ErrorResponse, ReadyForQuery…) and is handed whole to `onMessage`.
 *
 * Markers are searched in the raw bytes, headers included. That is exact for markers
 * without a NUL byte: a match cannot span a message boundary (message lengths below 16 MiB
 * start with a 0x00 byte) nor two DataRow values (each value's int32 length sits between
 * them). It is not for COPY rows split over several CopyData messages — PostgreSQL sends
 * one row per message and so does the gateway, and `copySplitRows` counts any message that
 * does not end a row, so the caller can refuse to vouch for the scan.
 */
import { Be } from '../../src/protocols/postgres/codec.js';

/** The stream is not PostgreSQL protocol 3 (a length below 4), or a small message is huge. */
export class BackendStreamError extends Error {
  override readonly name = 'BackendStreamError';
}

export interface StreamTally {
  /** Every byte pushed. */
  readonly bytes: number;
  /** Complete messages of any type. */
  readonly messages: number;
  readonly dataRows: number;
  readonly copyData: number;
  /** Payload bytes of CopyData messages. */
  readonly copyDataBytes: number;
  /** Newlines inside CopyData payloads: rows, in text and CSV COPY (embedded newlines are escaped or quoted). */
  readonly copyLines: number;
  /** CopyData messages whose payload does not end with a newline (a row split across messages). */
  readonly copySplitRows: number;
  /** Occurrences of each marker, in the order given. */
  readonly markers: readonly number[];
}

/** Largest message other than DataRow/CopyData kept for `onMessage`: larger ones are an error, not memory. */
export const MAX_KEPT_MESSAGE = 1 << 20;

const NEWLINE = 0x0a;
const HEADER = 5;

export class BackendStream {
  private readonly markerBytes: readonly Buffer[];
  private readonly markerCounts: number[];
  /** Last bytes of the previous chunk, to find markers that straddle two chunks. */
  private carry: Buffer = Buffer.alloc(0);
  private readonly carryLength: number;

  private bytes = 0;
  private messages = 0;
  private dataRows = 0;
  private copyData = 0;
  private copyDataBytes = 0;
  private copyLines = 0;
  private copySplitRows = 0;

  private inBody = false;
  private readonly header = Buffer.alloc(HEADER);
  private headerFill = 0;
  private type = 0;
  private bodyLeft = 0;
  /** Pieces of the message being kept for onMessage (undefined while in a DataRow/CopyData). */
  private kept: Buffer[] | undefined;
  private lastCopyByte = -1;

  constructor(
    markers: readonly string[],
    private readonly onMessage: (type: number, body: Buffer) => void = () => undefined,
  ) {
    this.markerBytes = markers.map((m) => {
      const b = Buffer.from(m, 'utf8');
      if (b.length === 0 || b.includes(0)) throw new BackendStreamError(`marker ${JSON.stringify(m)} must be non-empty and free of NUL bytes`);
      return b;
    });
    this.markerCounts = markers.map(() => 0);
    this.carryLength = Math.max(0, ...this.markerBytes.map((b) => b.length - 1));
  }

  get tally(): StreamTally {
    return {
      bytes: this.bytes,
      messages: this.messages,
      dataRows: this.dataRows,
      copyData: this.copyData,
      copyDataBytes: this.copyDataBytes,
      copyLines: this.copyLines,
      copySplitRows: this.copySplitRows,
      markers: [...this.markerCounts],
    };
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.countMarkers(chunk);
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (!this.inBody) {
        let length: number;
        if (this.headerFill === 0 && n - i >= HEADER) {
          this.type = chunk[i]!;
          length = chunk.readInt32BE(i + 1);
          i += HEADER;
        } else {
          const take = Math.min(HEADER - this.headerFill, n - i);
          chunk.copy(this.header, this.headerFill, i, i + take);
          this.headerFill += take;
          i += take;
          if (this.headerFill < HEADER) break;
          this.headerFill = 0;
          this.type = this.header[0]!;
          length = this.header.readInt32BE(1);
        }
        if (length < 4) throw new BackendStreamError(`message '${String.fromCharCode(this.type)}' declares length ${length}: not PostgreSQL protocol 3`);
        this.startMessage(length - 4);
        if (this.bodyLeft === 0) {
          this.endMessage();
          continue;
        }
      }
      const take = Math.min(this.bodyLeft, n - i);
      this.bodyPiece(chunk, i, i + take);
      i += take;
      this.bodyLeft -= take;
      if (this.bodyLeft === 0) this.endMessage();
    }
    this.remember(chunk);
  }

  private startMessage(bodyLength: number): void {
    this.inBody = true;
    this.bodyLeft = bodyLength;
    if (this.type === Be.DataRow) {
      this.dataRows++;
      this.kept = undefined;
    } else if (this.type === Be.CopyData) {
      this.copyData++;
      this.copyDataBytes += bodyLength;
      this.lastCopyByte = -1;
      this.kept = undefined;
    } else {
      if (bodyLength > MAX_KEPT_MESSAGE) {
        throw new BackendStreamError(`message '${String.fromCharCode(this.type)}' of ${bodyLength} bytes: larger than the ${MAX_KEPT_MESSAGE} bytes kept`);
      }
      this.kept = [];
    }
  }

  private bodyPiece(chunk: Buffer, from: number, to: number): void {
    if (this.type === Be.CopyData) {
      // Common case, one row per message: the first newline is the last byte — one search.
      for (let at = chunk.indexOf(NEWLINE, from); at !== -1 && at < to; at = chunk.indexOf(NEWLINE, at + 1)) this.copyLines++;
      this.lastCopyByte = chunk[to - 1]!;
    } else if (this.kept !== undefined) {
      this.kept.push(Buffer.from(chunk.subarray(from, to)));
    }
  }

  private endMessage(): void {
    this.inBody = false;
    this.messages++;
    if (this.type === Be.CopyData) {
      if (this.lastCopyByte !== NEWLINE) this.copySplitRows++;
    } else if (this.kept !== undefined) {
      const body = this.kept.length === 1 ? this.kept[0]! : Buffer.concat(this.kept);
      this.kept = undefined;
      this.onMessage(this.type, body);
    }
  }

  private countMarkers(chunk: Buffer): void {
    const carry = this.carry;
    // Matches that start in the carried tail and end in this chunk.
    const junction = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, this.carryLength)]) : undefined;
    for (let m = 0; m < this.markerBytes.length; m++) {
      const marker = this.markerBytes[m]!;
      let count = 0;
      for (let at = chunk.indexOf(marker); at !== -1; at = chunk.indexOf(marker, at + marker.length)) count++;
      if (junction !== undefined) {
        for (let at = junction.indexOf(marker); at !== -1 && at < carry.length; at = junction.indexOf(marker, at + marker.length)) {
          if (at + marker.length > carry.length) count++;
        }
      }
      this.markerCounts[m]! += count;
    }
  }

  private remember(chunk: Buffer): void {
    if (this.carryLength === 0) return;
    const joined = chunk.length >= this.carryLength ? chunk : Buffer.concat([this.carry, chunk]);
    this.carry = Buffer.from(joined.subarray(Math.max(0, joined.length - this.carryLength)));
  }
}
