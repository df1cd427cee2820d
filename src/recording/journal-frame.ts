/**
 * The recording journal's frame codec (pure). The journal is where a group-commit batch
 * becomes durable before anything of it is forwarded (./journal-store.ts): one frame per
 * batch, appended with a single write. A frame is
 *
 *   u32 LE  payload length
 *   u32 LE  CRC-32 of the payload
 *   u32 LE  CRC-32 of the 8 bytes above
 *   payload UTF-8 JSON: the batch's StoreWrite[]
 *
 * The checksums tell a frame that was cut short or damaged (a crash mid-write, a torn page,
 * a flipped bit) from one that was written whole; only whole frames are ever applied. The
 * header's own checksum keeps a damaged length from passing for a frame cut short.
 */
import { crc32 } from 'node:zlib';
import type { StoreWrite } from './journal-protocol.js';
import { AUDIT_ENTRY_TYPES, EVENT_TYPES } from './store.js';

export const FRAME_HEADER_BYTES = 12;
/** No batch comes near this; a length beyond it is damage, not data. */
export const MAX_FRAME_PAYLOAD_BYTES = 1024 * 1024 * 1024;

export function encodeFrame(writes: readonly StoreWrite[]): Buffer {
  const payload = JSON.stringify(writes);
  const length = Buffer.byteLength(payload);
  if (length > MAX_FRAME_PAYLOAD_BYTES) throw new RangeError(`a recording batch of ${length} bytes exceeds the journal's frame limit`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  frame.write(payload, FRAME_HEADER_BYTES, 'utf8');
  frame.writeUInt32LE(length, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
  frame.writeUInt32LE(crc32(frame.subarray(0, 8)), 8);
  return frame;
}

/** What `decodeFrames` found in a span of journal bytes. */
export interface DecodedFrames {
  readonly batches: StoreWrite[][];
  /** Offset (in the buffer given) just past the last whole frame. */
  readonly end: number;
  /**
   * Why decoding stopped before the buffer's end: `incomplete` (the bytes end inside a frame —
   * a write in progress, or cut short by a crash) or `damaged` (a frame that cannot be whole:
   * bad length, checksum mismatch, not a batch). Undefined when every byte was decoded.
   */
  readonly stop?: {
    readonly kind: 'incomplete' | 'damaged';
    readonly offset: number;
    readonly detail: string;
    /** Where the frame stopped at ends, when its header is whole but its payload's checksum does not match. */
    readonly frameEnd?: number;
  };
}

/** Decodes the whole frames of `bytes` from `start`, at most `maxFrames` of them. */
export function decodeFrames(bytes: Buffer, start = 0, maxFrames = Number.POSITIVE_INFINITY): DecodedFrames {
  const batches: StoreWrite[][] = [];
  let offset = start;
  while (offset < bytes.length && batches.length < maxFrames) {
    if (bytes.length - offset < FRAME_HEADER_BYTES) {
      return { batches, end: offset, stop: { kind: 'incomplete', offset, detail: `${bytes.length - offset} bytes of a frame header` } };
    }
    if (crc32(bytes.subarray(offset, offset + 8)) !== bytes.readUInt32LE(offset + 8)) {
      return { batches, end: offset, stop: { kind: 'damaged', offset, detail: 'a frame header whose checksum does not match' } };
    }
    const length = bytes.readUInt32LE(offset);
    if (length > MAX_FRAME_PAYLOAD_BYTES) {
      return { batches, end: offset, stop: { kind: 'damaged', offset, detail: `a frame length of ${length} bytes` } };
    }
    const payloadStart = offset + FRAME_HEADER_BYTES;
    if (bytes.length - payloadStart < length) {
      return {
        batches,
        end: offset,
        stop: { kind: 'incomplete', offset, detail: `${bytes.length - payloadStart} of a frame's ${length} bytes` },
      };
    }
    const payload = bytes.subarray(payloadStart, payloadStart + length);
    const frameEnd = payloadStart + length;
    if (crc32(payload) !== bytes.readUInt32LE(offset + 4)) {
      return { batches, end: offset, stop: { kind: 'damaged', offset, detail: 'a frame whose checksum does not match', frameEnd } };
    }
    const batch = parseBatch(payload);
    if (batch === undefined) {
      // Whole (its checksums match) but not a batch: a forged or mis-written frame, never a torn one.
      return { batches, end: offset, stop: { kind: 'damaged', offset, detail: 'a frame that does not hold a recording batch' } };
    }
    batches.push(batch);
    offset = payloadStart + length;
  }
  return { batches, end: offset };
}

function parseBatch(payload: Buffer): StoreWrite[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || !value.every(isStoreWrite)) return undefined;
  return value;
}

// Shape checks: a frame that passes its checksum but does not hold what the store takes (a
// forged or mis-written journal) is damage to report, not rows to half-insert.

type Fields = Record<string, unknown>;

const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === 'string';
const isInteger = (value: unknown): value is number => Number.isSafeInteger(value);
const EVENT_TYPE_NAMES: ReadonlySet<unknown> = new Set(EVENT_TYPES);
const AUDIT_TYPE_NAMES: ReadonlySet<unknown> = new Set(AUDIT_ENTRY_TYPES);

function isChained(row: Fields): boolean {
  return isInteger(row['seq']) && isInteger(row['time']) && isString(row['payload']) && isString(row['prevHash']) && isString(row['hash']);
}

function isEventRow(row: unknown): boolean {
  return isObject(row) && isString(row['sessionId']) && EVENT_TYPE_NAMES.has(row['type']) && isChained(row);
}

function isSessionRow(row: unknown): boolean {
  return (
    isObject(row) &&
    ['id', 'protocol', 'connection', 'subject'].every((key) => isString(row[key])) &&
    isInteger(row['startedAt']) &&
    (row['endedAt'] === null || isInteger(row['endedAt'])) &&
    (row['endedBy'] === null || isString(row['endedBy'])) &&
    (row['lastSeq'] === null || isInteger(row['lastSeq']))
  );
}

function isStoreWrite(write: unknown): write is StoreWrite {
  if (!isObject(write)) return false;
  switch (write['op']) {
    case 'insertSession':
      return isSessionRow(write['session']) && isEventRow(write['first']);
    case 'appendEvent':
      return isEventRow(write['event']);
    case 'markEnded':
      return isString(write['sessionId']) && isInteger(write['endedAt']) && isString(write['endedBy']) && isInteger(write['lastSeq']);
    case 'appendAuditEntry': {
      const entry = write['entry'];
      return isObject(entry) && AUDIT_TYPE_NAMES.has(entry['type']) && (entry['sessionId'] === null || isString(entry['sessionId'])) && isChained(entry);
    }
    case 'deleteSession':
      return isString(write['sessionId']);
    default:
      return false;
  }
}
