import { describe, expect, it } from 'vitest';
import * as codec from '../../../src/protocols/postgres/codec.js';
import { ProtocolError } from '../../../src/protocols/postgres/errors.js';
import { FrameReader, frameTypeSet, type Frame } from '../../../src/protocols/postgres/frame-reader.js';

/** One of every message the gateway builds or decodes, in a realistic order. */
function sampleMessages(): Buffer[] {
  return [
    codec.serializeAuthenticationCleartext(),
    codec.serializeAuthenticationOk(),
    codec.serializeParameterStatus('server_version', '17.2'),
    codec.serializeBackendKeyData(1234, Buffer.from([1, 2, 3, 4])),
    codec.serializeReadyForQuery('I'),
    codec.serializeQuery('SELECT 1; SELECT ’ünïcode’'),
    codec.serializeParse('s1', 'SELECT $1::int', [23]),
    codec.serializePassword('token.with.dots'),
    codec.serializeSaslInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=*,r=abc')),
    codec.serializeSaslResponse(Buffer.from('c=biws')),
    codec.serializeErrorResponse({ severity: 'ERROR', code: '42501', message: 'refused', detail: 'rule: x', hint: 'ask' }),
    codec.serializeNoticeResponse({ severity: 'NOTICE', code: '00000', message: 'hello' }),
    codec.serializeNegotiateProtocolVersion(0, ['_pq_.x']),
    codec.serializeTerminate(),
    Buffer.from([0x44, 0, 0, 0, 4]), // empty-bodied frame
  ];
}

function readAll(reader: FrameReader): Frame[] {
  const out: Frame[] = [];
  for (let f = reader.next(); f; f = reader.next()) out.push(f);
  return out;
}

function snapshot(frames: Frame[]): Array<[number, string]> {
  return frames.map((f) => [f.type, Buffer.from(f.raw).toString('hex')]);
}

describe('FrameReader', () => {
  const stream = Buffer.concat(sampleMessages());
  const whole = (() => {
    const r = new FrameReader(1 << 20);
    r.push(stream);
    return snapshot(readAll(r));
  })();

  it('returns every message of a stream whole', () => {
    expect(whole).toHaveLength(sampleMessages().length);
    expect(whole.map(([, hex]) => hex)).toEqual(sampleMessages().map((m) => m.toString('hex')));
  });

  it('reassembles the stream cut at every byte boundary', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = new FrameReader(1 << 20);
      r.push(stream.subarray(0, cut));
      const frames = readAll(r);
      r.push(stream.subarray(cut));
      frames.push(...readAll(r));
      expect(snapshot(frames), `cut at ${cut}`).toEqual(whole);
      expect(r.pendingBytes).toBe(0);
    }
  });

  it('reassembles each message cut at every pair of byte boundaries', () => {
    for (const msg of sampleMessages()) {
      for (let a = 0; a <= msg.length; a++) {
        for (let b = a; b <= msg.length; b++) {
          const r = new FrameReader(1 << 20);
          const frames: Frame[] = [];
          for (const part of [msg.subarray(0, a), msg.subarray(a, b), msg.subarray(b)]) {
            r.push(part);
            frames.push(...readAll(r));
          }
          expect(frames).toHaveLength(1);
          expect(Buffer.from(frames[0]!.raw).equals(msg)).toBe(true);
        }
      }
    }
  });

  it('reassembles when fed one byte at a time', () => {
    const r = new FrameReader(1 << 20);
    const frames: Frame[] = [];
    for (const byte of stream) {
      r.push(Buffer.from([byte]));
      frames.push(...readAll(r));
    }
    expect(snapshot(frames)).toEqual(whole);
  });

  it('returns views, not copies, for frames inside one chunk', () => {
    const r = new FrameReader(1 << 20);
    r.push(stream);
    const f = r.next()!;
    expect(f.raw.buffer).toBe(stream.buffer);
  });

  it('refuses a frame longer than the limit before buffering it', () => {
    const r = new FrameReader(1024);
    const header = Buffer.from([0x51, 0, 0, 0x10, 0]); // Query claiming 4096 bytes
    r.push(header);
    expect(() => r.next()).toThrowError(ProtocolError);
    try {
      r.next();
    } catch (err) {
      expect((err as ProtocolError).sqlState).toBe('54000');
      expect((err as Error).message).toMatch(/exceeds the limit of 1024 bytes/);
    }
  });

  it('refuses a length below the header size', () => {
    const r = new FrameReader(1024);
    r.push(Buffer.from([0x51, 0, 0, 0, 3]));
    expect(() => r.next()).toThrowError(/invalid message length 3/);
  });

  it('refuses a negative length', () => {
    const r = new FrameReader(1024);
    r.push(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff]));
    expect(() => r.next()).toThrowError(/invalid message length -1/);
  });

  describe('takeRun (relay fast path)', () => {
    const stop = frameTypeSet([codec.Fe.Query, codec.Be.ErrorResponse]);

    /** Alternates takeRun and next like the session does; returns forwarded bytes and stopped frames. */
    function relay(r: FrameReader): { bytes: Buffer[]; stopped: number[] } {
      const bytes: Buffer[] = [];
      const stopped: number[] = [];
      for (;;) {
        const run = r.takeRun(stop);
        if (run) bytes.push(Buffer.from(run));
        const f = r.next();
        if (!f) return { bytes, stopped };
        if (f.type === codec.Fe.Query || f.type === codec.Be.ErrorResponse) stopped.push(f.type);
        else expect(run === null || stop[f.type] === 0).toBe(true);
        bytes.push(Buffer.from(f.raw));
      }
    }

    it('forwards every byte in order and surfaces each stop-type frame, cut at every boundary', () => {
      const expectedStops = sampleMessages()
        .map((m) => m[0]!)
        .filter((t) => stop[t] === 1);
      expect(expectedStops.length).toBeGreaterThan(1);
      for (let cut = 0; cut <= stream.length; cut++) {
        const r = new FrameReader(1 << 20);
        const bytes: Buffer[] = [];
        const stops: number[] = [];
        for (const part of [stream.subarray(0, cut), stream.subarray(cut)]) {
          r.push(part);
          const out = relay(r);
          bytes.push(...out.bytes);
          stops.push(...out.stopped);
        }
        expect(Buffer.concat(bytes).equals(stream), `cut at ${cut}`).toBe(true);
        expect(stops, `cut at ${cut}`).toEqual(expectedStops);
        expect(r.pendingBytes).toBe(0);
      }
    });

    it('returns one view over consecutive pass-through frames', () => {
      const frames = [codec.serializeParameterStatus('a', 'b'), codec.serializeReadyForQuery('I'), codec.serializeQuery('x')];
      const chunk = Buffer.concat(frames);
      const r = new FrameReader(1 << 20);
      r.push(chunk);
      const run = r.takeRun(stop)!;
      expect(run.buffer).toBe(chunk.buffer);
      expect(run.length).toBe(frames[0]!.length + frames[1]!.length);
      expect(r.takeRun(stop)).toBeNull(); // a Query is next
      expect(r.next()!.type).toBe(codec.Fe.Query);
    });

    it('counts the frames of one type in each run, and resets the count', () => {
      const row = Buffer.from([0x44, 0, 0, 0, 6, 0, 0]); // DataRow with zero columns plus padding
      const chunk = Buffer.concat([row, codec.serializeParameterStatus('a', 'b'), row, row, codec.serializeQuery('x')]);
      const r = new FrameReader(1 << 20);
      r.push(chunk);
      expect(r.takeRun(stop, 0x44)!.length).toBe(chunk.length - codec.serializeQuery('x').length);
      expect([r.lastRunCount, r.lastRunCountBytes]).toEqual([3, 3 * row.length]);
      expect(r.takeRun(stop, 0x44)).toBeNull();
      expect([r.lastRunCount, r.lastRunCountBytes]).toEqual([0, 0]);
    });

    it('leaves oversized and invalid lengths to next(), which reports them', () => {
      const r = new FrameReader(16);
      r.push(Buffer.concat([codec.serializeReadyForQuery('I'), Buffer.from([0x44, 0, 0, 1, 0])]));
      expect(r.takeRun(stop)!.length).toBe(6);
      expect(r.takeRun(stop)).toBeNull();
      expect(() => r.next()).toThrowError(/exceeds the limit of 16 bytes/);
    });
  });

  describe('startup phase', () => {
    const startup = codec.serializeStartupMessage({ user: 'agent', database: 'demo' });
    const ssl = codec.serializeSslRequest();

    it('reads untyped packets cut at every boundary, then typed ones', () => {
      const all = Buffer.concat([ssl, startup, codec.serializePassword('tok')]);
      for (let cut = 0; cut <= all.length; cut++) {
        const r = new FrameReader(1 << 16, { startup: true });
        const frames: Frame[] = [];
        for (const part of [all.subarray(0, cut), all.subarray(cut)]) {
          r.push(part);
          for (let f = r.next(); f; f = r.next()) {
            frames.push(f);
            if (f.type === 0 && codec.parseStartupPacket(f.body).kind === 'startup') r.endStartupPhase();
          }
        }
        expect(frames.map((f) => f.type), `cut at ${cut}`).toEqual([0, 0, codec.Fe.Password]);
        expect(codec.parseStartupPacket(frames[1]!.body)).toMatchObject({ kind: 'startup', majorVersion: 3 });
      }
    });

    it('refuses a startup length below 8', () => {
      const r = new FrameReader(1 << 16, { startup: true });
      r.push(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0]));
      expect(() => r.next()).toThrowError(ProtocolError);
    });
  });
});

describe('FrameReader.unshift', () => {
  it('returns a set-aside frame again, before the bytes that followed it, even mid-chunk', () => {
    const a = codec.serializeQuery('a');
    const b = codec.serializeQuery('bb');
    const c = codec.serializeQuery('ccc');
    const reader = new FrameReader(1024);
    reader.push(Buffer.concat([a, b, c.subarray(0, 3)]));
    const first = reader.next()!;
    expect(first.raw).toEqual(a);
    reader.unshift(first);
    expect(reader.pendingBytes).toBe(a.length + b.length + 3);
    reader.push(c.subarray(3));
    const seen: Buffer[] = [];
    for (let f = reader.next(); f; f = reader.next()) seen.push(Buffer.from(f.raw));
    expect(seen).toEqual([a, b, c]);
    expect(reader.pendingBytes).toBe(0);
  });
});
