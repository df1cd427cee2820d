/**
 * The journal frame codec, byte by byte: the header layout, round trips, and how decoding
 * tells a frame cut short (`incomplete`) from one that cannot be whole (`damaged`).
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeFrames, encodeFrame, FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD_BYTES } from '../../../src/recording/journal-frame.js';
import type { StoreWrite } from '../../../src/recording/journal-protocol.js';
import type { AuditEntryRow, SessionRow } from '../../../src/recording/store.js';
import { EVENT_T0, eventRow } from './support.js';

const T0 = EVENT_T0;
const event = eventRow;
const hex = (text: string): string => createHash('sha256').update(text).digest('hex');

const session: SessionRow = {
  id: 's-ünïcødé',
  protocol: 'postgres',
  connection: 'demo',
  subject: 'agent-ø',
  startedAt: T0 + 1000,
  endedAt: null,
  endedBy: null,
  lastSeq: null,
};

const start = event(session.id, 1, 'session-start', {
  protocol: 'postgres',
  connection: 'demo',
  identity: { subject: 'agent-ø', clientId: 'ci-bot', groups: ['agents'] },
  clientAddress: '127.0.0.1:50000',
  tls: true,
});
const operation = event(session.id, 2, 'operation', {
  via: 'simple-query',
  text: `SELECT 'naïve ☃ 日本語 😀', '{"nested":"json","q":"\\"quoted\\""}'::jsonb FROM "orders"\n`,
  effect: 'allow',
  rule: 'reads-ok',
  reason: 'reads are allowed',
});
const outcome = event(session.id, 3, 'outcome', { operationSeq: 2, command: 'SELECT 1', rows: 1, bytes: 10, columns: ['id'], durationMs: 2 });
const end = event(session.id, 4, 'session-end', { endedBy: 'client', reason: 'client disconnected — bye' });
const seal: AuditEntryRow = {
  seq: 1,
  time: T0 + 5000,
  type: 'session-seal',
  sessionId: session.id,
  payload: JSON.stringify({ lastSeq: 4, lastHash: end.hash, endedBy: 'client' }),
  prevHash: hex('audit:0'),
  hash: hex('audit:1'),
};

/** Realistic batches, as the recorder would commit them. */
const BATCHES: StoreWrite[][] = [
  [{ op: 'insertSession', session, first: start }],
  [
    { op: 'appendEvent', event: operation },
    { op: 'appendEvent', event: outcome },
  ],
  [
    { op: 'appendEvent', event: end },
    { op: 'markEnded', sessionId: session.id, endedAt: end.time, endedBy: 'client', lastSeq: 4 },
    { op: 'appendAuditEntry', entry: seal },
  ],
  [{ op: 'deleteSession', sessionId: 'old-session' }],
];

/** A frame around any payload text, with a correct length and checksum. */
function rawFrame(payload: string): Buffer {
  const bytes = Buffer.from(payload, 'utf8');
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32LE(bytes.length, 0);
  header.writeUInt32LE(crc32(bytes), 4);
  header.writeUInt32LE(crc32(header.subarray(0, 8)), 8);
  return Buffer.concat([header, bytes]);
}

/** A frame header claiming `length` payload bytes, with a correct header checksum. */
function headerFor(length: number): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32LE(length, 0);
  header.writeUInt32LE(crc32(header.subarray(0, 8)), 8);
  return header;
}

const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** The frames of BATCHES, their concatenation, and where each frame starts. */
function journal(): { frames: Buffer[]; bytes: Buffer; starts: number[] } {
  const frames = BATCHES.map((batch) => encodeFrame(batch));
  const starts: number[] = [];
  let offset = 0;
  for (const frame of frames) {
    starts.push(offset);
    offset += frame.length;
  }
  return { frames, bytes: Buffer.concat(frames), starts };
}

describe('encodeFrame', () => {
  it('writes the payload length (LE) at 0, the CRC-32 of the payload (LE) at 4, the CRC-32 of those 8 bytes at 8, then the JSON of the writes', () => {
    const writes = BATCHES[1] as StoreWrite[];
    const payload = JSON.stringify(writes);
    const payloadBytes = Buffer.from(payload, 'utf8');
    // Non-ASCII text: the length is in bytes, not characters.
    expect(payloadBytes.length).toBeGreaterThan(payload.length);
    expect(payloadBytes.length).toBeGreaterThan(0xff);

    const frame = encodeFrame(writes);
    expect(frame.length).toBe(FRAME_HEADER_BYTES + payloadBytes.length);
    expect(FRAME_HEADER_BYTES).toBe(12);

    const length = payloadBytes.length;
    expect([...frame.subarray(0, 4)]).toEqual([length & 0xff, (length >>> 8) & 0xff, (length >>> 16) & 0xff, (length >>> 24) & 0xff]);
    const crc = crc32(payloadBytes);
    expect([...frame.subarray(4, 8)]).toEqual([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, (crc >>> 24) & 0xff]);
    expect(frame.readUInt32LE(0)).toBe(length);
    expect(frame.readUInt32LE(4)).toBe(crc);
    expect([...frame.subarray(8, 12)]).toEqual(le32(crc32(frame.subarray(0, 8))));
    expect(frame.subarray(FRAME_HEADER_BYTES).equals(payloadBytes)).toBe(true);
  });

  it('encodes an empty batch as the 2-byte payload []', () => {
    const frame = encodeFrame([]);
    const crc = crc32(Buffer.from('[]'));
    const head = Buffer.from([2, 0, 0, 0, ...le32(crc)]);
    expect([...frame]).toEqual([...head, ...le32(crc32(head)), 0x5b, 0x5d]);
    expect(decodeFrames(frame)).toEqual({ batches: [[]], end: frame.length });
  });
});

describe('decodeFrames', () => {
  it('round-trips several concatenated frames exactly, non-ASCII and JSON-in-JSON payloads included', () => {
    const { bytes } = journal();
    const decoded = decodeFrames(bytes);
    expect(decoded.stop).toBeUndefined();
    expect(decoded.end).toBe(bytes.length);
    expect(decoded.batches).toEqual(BATCHES);
    // Payloads are hashed as stored: the very same strings come back.
    const op = decoded.batches[1]?.[0] as Extract<StoreWrite, { op: 'appendEvent' }>;
    expect(op.event.payload).toBe(operation.payload);
    expect((JSON.parse(op.event.payload) as { text: string }).text).toContain('naïve ☃ 日本語 😀');
    const audit = decoded.batches[2]?.[2] as Extract<StoreWrite, { op: 'appendAuditEntry' }>;
    expect(audit.entry.payload).toBe(seal.payload);
    const first = decoded.batches[0]?.[0] as Extract<StoreWrite, { op: 'insertSession' }>;
    expect(first.session.id).toBe('s-ünïcødé');
    expect(first.session.endedAt).toBeNull();
  });

  it('gives back a payload string with a lone surrogate unchanged (it is hashed as stored)', () => {
    const odd = { ...operation, payload: `{"text":"a\uD800b \uDFFF"}` };
    const frame = encodeFrame([{ op: 'appendEvent', event: odd }]);
    const decoded = decodeFrames(frame);
    expect(decoded.stop).toBeUndefined();
    const write = decoded.batches[0]?.[0] as Extract<StoreWrite, { op: 'appendEvent' }>;
    expect(write.event.payload).toBe(odd.payload);
  });

  it('decodes an empty buffer to no batches, end 0 and no stop', () => {
    expect(decodeFrames(Buffer.alloc(0))).toEqual({ batches: [], end: 0 });
  });

  it('decodes from a start offset (a frame boundary), with end relative to the whole buffer', () => {
    const { bytes, starts } = journal();
    const decoded = decodeFrames(bytes, starts[2]);
    expect(decoded.batches).toEqual(BATCHES.slice(2));
    expect(decoded.end).toBe(bytes.length);
    expect(decoded.stop).toBeUndefined();
    // Starting at the end: nothing left to decode.
    expect(decodeFrames(bytes, bytes.length)).toEqual({ batches: [], end: bytes.length });
  });

  it('stops after maxFrames whole frames, with end at the next frame', () => {
    const { bytes, starts } = journal();
    const two = decodeFrames(bytes, 0, 2);
    expect(two.batches).toEqual(BATCHES.slice(0, 2));
    expect(two.end).toBe(starts[2]);
    expect(two.stop).toBeUndefined();

    const fromOne = decodeFrames(bytes, starts[1], 1);
    expect(fromOne.batches).toEqual([BATCHES[1]]);
    expect(fromOne.end).toBe(starts[2]);

    expect(decodeFrames(bytes, starts[1], 0)).toEqual({ batches: [], end: starts[1] });
    // A limit beyond the frames there are is no limit.
    expect(decodeFrames(bytes, 0, 100)).toEqual({ batches: BATCHES, end: bytes.length });
  });

  it('reports a buffer cut at every byte inside the last frame as incomplete, having decoded every frame before it', () => {
    const { bytes, starts } = journal();
    const last = starts[starts.length - 1] as number;
    // Cut exactly at the last frame's start: every byte decoded, nothing to report.
    expect(decodeFrames(bytes.subarray(0, last))).toEqual({ batches: BATCHES.slice(0, -1), end: last });
    for (let cut = last + 1; cut < bytes.length; cut++) {
      const decoded = decodeFrames(bytes.subarray(0, cut));
      expect(decoded.batches, `cut at ${cut}`).toEqual(BATCHES.slice(0, -1));
      expect(decoded.end, `cut at ${cut}`).toBe(last);
      expect(decoded.stop?.kind, `cut at ${cut}`).toBe('incomplete');
      expect(decoded.stop?.offset, `cut at ${cut}`).toBe(last);
    }
  });

  it('reports a buffer cut inside the first frame as incomplete at 0, with no batches', () => {
    const { frames } = journal();
    const first = frames[0] as Buffer;
    for (let cut = 1; cut < first.length; cut++) {
      expect(decodeFrames(first.subarray(0, cut)), `cut at ${cut}`).toMatchObject({ batches: [], end: 0, stop: { kind: 'incomplete', offset: 0 } });
    }
  });

  it('reports a flipped payload byte as damaged (checksum), keeping the frames before it', () => {
    const { bytes, starts } = journal();
    const at = (starts[2] as number) + FRAME_HEADER_BYTES + 5;
    const damaged = Buffer.from(bytes);
    damaged[at] = (damaged[at] as number) ^ 0x01;
    const decoded = decodeFrames(damaged);
    expect(decoded.batches).toEqual(BATCHES.slice(0, 2));
    expect(decoded.end).toBe(starts[2]);
    expect(decoded.stop?.kind).toBe('damaged');
    expect(decoded.stop?.offset).toBe(starts[2]);
    expect(decoded.stop?.detail).toContain('checksum');
  });

  it('reports a flipped checksum byte as damaged', () => {
    const { bytes, starts } = journal();
    const damaged = Buffer.from(bytes);
    const at = (starts[1] as number) + 4;
    damaged[at] = (damaged[at] as number) ^ 0x80;
    expect(decodeFrames(damaged)).toMatchObject({ batches: BATCHES.slice(0, 1), end: starts[1], stop: { kind: 'damaged', offset: starts[1] } });
  });

  it('reports a length above MAX_FRAME_PAYLOAD_BYTES as damaged, not as a frame still being written', () => {
    const { frames } = journal();
    const first = frames[0] as Buffer;
    const decoded = decodeFrames(Buffer.concat([first, headerFor(MAX_FRAME_PAYLOAD_BYTES + 1), Buffer.from('[]')]));
    expect(decoded.batches).toEqual(BATCHES.slice(0, 1));
    expect(decoded.end).toBe(first.length);
    expect(decoded.stop?.kind).toBe('damaged');
    expect(decoded.stop?.offset).toBe(first.length);
    expect(decoded.stop?.detail).toContain(String(MAX_FRAME_PAYLOAD_BYTES + 1));

    expect(decodeFrames(headerFor(0xffffffff)).stop?.kind).toBe('damaged');

    // Exactly the limit is a (possible) frame, still being written.
    expect(decodeFrames(headerFor(MAX_FRAME_PAYLOAD_BYTES)).stop?.kind).toBe('incomplete');
  });

  it('reports a damaged length as damaged, even when it would run past the end (not as a frame cut short)', () => {
    const { frames, starts } = journal();
    const bytes = Buffer.concat(frames);
    const second = starts[1] as number;
    // A larger length, past the end of the buffer: without the header checksum this would read as "incomplete".
    bytes.writeUInt32LE(bytes.length * 4, second);
    const decoded = decodeFrames(bytes);
    expect(decoded.batches).toEqual(BATCHES.slice(0, 1));
    expect(decoded.end).toBe(second);
    expect(decoded.stop).toMatchObject({ kind: 'damaged', offset: second, detail: expect.stringContaining('header') });
    expect(decoded.stop?.frameEnd).toBeUndefined();
  });

  it('tells where a frame with a damaged payload ends (its header is whole)', () => {
    const { frames, starts } = journal();
    const bytes = Buffer.concat(frames);
    const second = starts[1] as number;
    bytes[second + FRAME_HEADER_BYTES + 3] = (bytes[second + FRAME_HEADER_BYTES + 3] as number) ^ 0x01;
    expect(decodeFrames(bytes).stop).toMatchObject({ kind: 'damaged', offset: second, frameEnd: second + (frames[1] as Buffer).length });
  });

  it.each([
    ['an object, not an array', '{"op":"x"}'],
    ['an unknown op', '[{"op":"dropTable"}]'],
    ['a number in the array', '[1]'],
    ['null in the array', '[null]'],
    ['an array in the array', '[["appendEvent"]]'],
    ['a write without an op', '[{"event":{}}]'],
    ['an unknown op after a known one', '[{"op":"appendEvent","event":{}},{"op":"DROP"}]'],
    ['a JSON string', '"[]"'],
    ['not JSON at all', '[{"op":"appendEvent"'],
    ['an empty payload', ''],
    ['an appendEvent without its event', '[{"op":"appendEvent"}]'],
    ['an event of an unknown type', JSON.stringify([{ op: 'appendEvent', event: { ...operation, type: 'exec' } }])],
    ['an event whose seq is a string', JSON.stringify([{ op: 'appendEvent', event: { ...operation, seq: '2' } }])],
    ['an event whose payload is an object', JSON.stringify([{ op: 'appendEvent', event: { ...operation, payload: {} } }])],
    ['an insertSession without its first event', JSON.stringify([{ op: 'insertSession', session }])],
    ['a markEnded without lastSeq', '[{"op":"markEnded","sessionId":"s","endedAt":1,"endedBy":"client"}]'],
    ['an audit entry of an unknown type', JSON.stringify([{ op: 'appendAuditEntry', entry: { ...seal, type: 'rewrite' } }])],
    ['a deleteSession with a numeric id', '[{"op":"deleteSession","sessionId":7}]'],
  ])('reports a frame with a correct checksum holding %s as damaged', (_what, payload) => {
    const { frames } = journal();
    const first = frames[0] as Buffer;
    const decoded = decodeFrames(Buffer.concat([first, rawFrame(payload), frames[1] as Buffer]));
    expect(decoded.batches).toEqual(BATCHES.slice(0, 1));
    expect(decoded.end).toBe(first.length);
    expect(decoded.stop?.kind).toBe('damaged');
    expect(decoded.stop?.offset).toBe(first.length);
  });

  it('never throws on damaged journals: every truncation, byte flip and splice of garbage decodes to a whole-frame prefix', () => {
    const { bytes, starts } = journal();
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 2000; trial++) {
      const damaged = Buffer.from(bytes);
      const flips = 1 + random(4);
      for (let f = 0; f < flips; f++) damaged[random(damaged.length)] = random(256);
      const input = trial % 3 === 0 ? damaged.subarray(0, random(damaged.length)) : trial % 3 === 1 ? Buffer.concat([damaged, Buffer.from(Array.from({ length: random(64) }, () => random(256)))]) : damaged;
      const decoded = decodeFrames(input);
      // Whatever decoded is a run of whole frames from the start: the end is a frame boundary of the original.
      expect([...starts, bytes.length]).toContain(decoded.end);
      expect(decoded.batches).toEqual(BATCHES.slice(0, decoded.batches.length));
    }
  });

  it('accepts a raw frame holding a well-formed batch (the raw helper itself is right)', () => {
    const writes: StoreWrite[] = [{ op: 'deleteSession', sessionId: 'x' }];
    const frame = rawFrame(JSON.stringify(writes));
    expect(frame.equals(encodeFrame(writes))).toBe(true);
    expect(decodeFrames(frame)).toEqual({ batches: [writes], end: frame.length });
  });

  it('reports zero bytes after the last frame as damaged (an empty payload is no batch), or incomplete when fewer than a header', () => {
    const { bytes } = journal();
    expect(decodeFrames(Buffer.concat([bytes, Buffer.alloc(100)]))).toMatchObject({
      batches: BATCHES,
      end: bytes.length,
      stop: { kind: 'damaged', offset: bytes.length },
    });
    expect(decodeFrames(Buffer.concat([bytes, Buffer.alloc(FRAME_HEADER_BYTES - 1)]))).toMatchObject({
      batches: BATCHES,
      end: bytes.length,
      stop: { kind: 'incomplete', offset: bytes.length },
    });
  });
});
