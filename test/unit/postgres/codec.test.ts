import { describe, expect, it } from 'vitest';
import * as codec from '../../../src/protocols/postgres/codec.js';
import { ProtocolError } from '../../../src/protocols/postgres/errors.js';

const body = (frame: Buffer): Buffer => frame.subarray(5);

describe('startup packets', () => {
  it('encodes StartupMessage byte by byte', () => {
    const b = codec.serializeStartupMessage({ user: 'a', database: 'd' });
    expect(b.toString('hex')).toBe(
      '0000001b' + '00030000' + Buffer.from('user\0a\0database\0d\0\0').toString('hex'),
    );
  });

  it('decodes parameters and protocol options', () => {
    const raw = Buffer.concat([
      Buffer.from([0, 0, 0, 0]),
      Buffer.from([0, 3, 0, 2]),
      Buffer.from('user\0agent\0database\0demo\0_pq_.compression\0on\0\0'),
    ]);
    raw.writeInt32BE(raw.length, 0);
    const p = codec.parseStartupPacket(raw.subarray(4));
    expect(p).toEqual({
      kind: 'startup',
      majorVersion: 3,
      minorVersion: 2,
      parameters: new Map([
        ['user', 'agent'],
        ['database', 'demo'],
      ]),
      protocolOptions: ['_pq_.compression'],
    });
  });

  it('recognises SSLRequest, GSSENCRequest and CancelRequest', () => {
    expect(codec.parseStartupPacket(codec.serializeSslRequest().subarray(4))).toEqual({ kind: 'ssl' });
    expect(codec.parseStartupPacket(Buffer.from([0x04, 0xd2, 0x16, 0x30]))).toEqual({ kind: 'gssenc' });
    const cancel = codec.serializeCancelRequest(42, Buffer.from([9, 8, 7, 6]));
    expect(cancel.toString('hex')).toBe('00000010' + '04d2162e' + '0000002a' + '09080706');
    expect(codec.parseStartupPacket(cancel.subarray(4))).toEqual({
      kind: 'cancel',
      processId: 42,
      secretKey: Buffer.from([9, 8, 7, 6]),
    });
  });

  it('refuses protocol 2 and unterminated parameters', () => {
    expect(() => codec.parseStartupPacket(Buffer.from([0, 2, 0, 0]))).toThrowError(/unsupported frontend protocol 2\.0/);
    expect(() => codec.parseStartupPacket(Buffer.from([0, 3, 0, 0, 0x75, 0x73]))).toThrowError(ProtocolError);
    expect(() => codec.parseStartupPacket(Buffer.from([0, 3]))).toThrowError(/too short/);
  });
});

describe('frontend messages', () => {
  it('round-trips Query', () => {
    const q = codec.serializeQuery('SELECT 1');
    expect(q.toString('hex')).toBe('510000000d' + Buffer.from('SELECT 1\0').toString('hex'));
    expect(codec.parseQuery(body(q))).toBe('SELECT 1');
  });

  it('refuses a Query without terminator or with trailing bytes', () => {
    expect(() => codec.parseQuery(Buffer.from('SELECT 1'))).toThrowError(/unterminated/);
    expect(() => codec.parseQuery(Buffer.from('SELECT 1\0x'))).toThrowError(/trailing/);
  });

  it('round-trips Parse with parameter types', () => {
    const p = codec.serializeParse('stmt', 'SELECT $1, $2', [23, 25]);
    expect(codec.parseParse(body(p))).toEqual({ statement: 'stmt', sql: 'SELECT $1, $2', parameterTypes: [23, 25] });
  });

  it('encodes password, SASL and Terminate', () => {
    expect(codec.serializePassword('t').toString('hex')).toBe('7000000006' + '7400');
    expect(codec.serializeSaslInitialResponse('M', Buffer.from('ab')).toString('hex')).toBe(
      '700000000c' + '4d00' + '00000002' + '6162',
    );
    expect(codec.serializeSaslResponse(Buffer.from('z')).toString('hex')).toBe('70000000057a');
    expect(codec.serializeTerminate().toString('hex')).toBe('5800000004');
  });

  it('refuses strings with NUL bytes rather than truncating them', () => {
    expect(() => codec.serializeQuery('a\0b')).toThrowError(ProtocolError);
  });
});

describe('backend messages', () => {
  const auth = (code: number, rest: Buffer = Buffer.alloc(0)): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(code);
    return Buffer.concat([b, rest]);
  };

  it('decodes every authentication request', () => {
    expect(codec.parseAuthentication(auth(0))).toEqual({ kind: 'ok' });
    expect(codec.parseAuthentication(auth(3))).toEqual({ kind: 'cleartext' });
    expect(codec.parseAuthentication(auth(5, Buffer.from([1, 2, 3, 4])))).toEqual({
      kind: 'md5',
      salt: Buffer.from([1, 2, 3, 4]),
    });
    expect(codec.parseAuthentication(auth(10, Buffer.from('SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0')))).toEqual({
      kind: 'sasl',
      mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'],
    });
    expect(codec.parseAuthentication(auth(11, Buffer.from('r=x')))).toEqual({ kind: 'sasl-continue', data: Buffer.from('r=x') });
    expect(codec.parseAuthentication(auth(12, Buffer.from('v=y')))).toEqual({ kind: 'sasl-final', data: Buffer.from('v=y') });
    expect(codec.parseAuthentication(auth(7))).toEqual({ kind: 'unsupported', code: 7 });
    expect(() => codec.parseAuthentication(auth(5, Buffer.from([1])))).toThrowError(/truncated/);
  });

  it('encodes AuthenticationCleartextPassword and AuthenticationOk byte by byte', () => {
    expect(codec.serializeAuthenticationCleartext().toString('hex')).toBe('520000000800000003');
    expect(codec.serializeAuthenticationOk().toString('hex')).toBe('520000000800000000');
  });

  it('round-trips ParameterStatus, BackendKeyData and ReadyForQuery', () => {
    const ps = codec.serializeParameterStatus('TimeZone', 'UTC');
    expect(codec.parseParameterStatus(body(ps))).toEqual({ name: 'TimeZone', value: 'UTC' });
    const k = codec.serializeBackendKeyData(7, Buffer.from([0, 0, 0, 9]));
    expect(k.toString('hex')).toBe('4b0000000c' + '00000007' + '00000009');
    expect(codec.parseBackendKeyData(body(k))).toEqual({ processId: 7, secretKey: Buffer.from([0, 0, 0, 9]) });
    for (const s of ['I', 'T', 'E'] as const) {
      expect(codec.parseReadyForQuery(body(codec.serializeReadyForQuery(s)))).toBe(s);
    }
    expect(() => codec.parseReadyForQuery(Buffer.from('X'))).toThrowError(ProtocolError);
  });

  it('encodes ErrorResponse fields in order and decodes them back', () => {
    const e = codec.serializeErrorResponse({ severity: 'FATAL', code: '28P01', message: 'bad token', hint: 'get one' });
    expect(e[0]).toBe(0x45);
    expect(body(e).toString('latin1')).toBe('SFATAL\0VFATAL\0C28P01\0Mbad token\0Hget one\0\0');
    const fields = codec.parseErrorFields(body(e));
    expect(Object.fromEntries(fields)).toEqual({ S: 'FATAL', V: 'FATAL', C: '28P01', M: 'bad token', H: 'get one' });
  });

  it('encodes NegotiateProtocolVersion', () => {
    const v = codec.serializeNegotiateProtocolVersion(0, ['_pq_.a']);
    expect(v.toString('hex')).toBe('7600000013' + '00000000' + '00000001' + Buffer.from('_pq_.a\0').toString('hex'));
  });
});

describe('extended-protocol messages the recorder reads', () => {
  const frame = (type: string, ...parts: Buffer[]): Buffer => {
    const payload = Buffer.concat(parts);
    const out = Buffer.alloc(5 + payload.length);
    out.write(type, 0, 'latin1');
    out.writeInt32BE(4 + payload.length, 1);
    payload.copy(out, 5);
    return out;
  };
  const int16 = (...values: number[]): Buffer => Buffer.from(values.flatMap((v) => [(v >> 8) & 0xff, v & 0xff]));
  const int32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return b;
  };
  const cstr = (s: string): Buffer => Buffer.from(`${s}\0`);

  it('decodes Bind with one format code for all parameters, NULLs and binary values', () => {
    const b = frame('B', cstr('p'), cstr('s1'), int16(1, 1), int16(3), int32(2), Buffer.from([0, 7]), int32(-1), int32(0), int16(0));
    const bind = codec.parseBind(body(b));
    expect(bind).toMatchObject({ portal: 'p', statement: 's1', parameterFormats: [1, 1, 1] });
    expect(bind.parameters.map((p) => p?.toString('hex') ?? null)).toEqual(['0007', null, '']);
  });

  it('decodes Bind with per-parameter and default format codes', () => {
    const mixed = frame('B', cstr(''), cstr(''), int16(2, 0, 1), int16(2), int32(1), Buffer.from('a'), int32(1), Buffer.from([9]), int16(1, 0));
    expect(codec.parseBind(body(mixed)).parameterFormats).toEqual([0, 1]);
    const defaults = frame('B', cstr(''), cstr(''), int16(0), int16(1), int32(2), Buffer.from('hi'), int16(0));
    expect(codec.parseBind(body(defaults))).toMatchObject({ parameterFormats: [0] });
  });

  it('rejects malformed Binds', () => {
    const wrongCodes = frame('B', cstr(''), cstr(''), int16(2, 0, 0), int16(3), int32(-1), int32(-1), int32(-1), int16(0));
    expect(() => codec.parseBind(body(wrongCodes))).toThrow(/2 parameter format codes for 3 parameters/);
    const truncated = frame('B', cstr(''), cstr(''), int16(0), int16(1), int32(10), Buffer.from('short'));
    expect(() => codec.parseBind(body(truncated))).toThrow(ProtocolError);
    const trailing = frame('B', cstr(''), cstr(''), int16(0), int16(0), int16(0), Buffer.from([1]));
    expect(() => codec.parseBind(body(trailing))).toThrow(/trailing bytes in Bind/);
  });

  it('serializes a parameterless Bind that parses back', () => {
    const b = codec.serializeBind('portal', 'stmt');
    expect(b.toString('hex')).toBe(Buffer.concat([Buffer.from('B'), int32(4 + 7 + 5 + 6), cstr('portal'), cstr('stmt'), int16(0, 0, 0)]).toString('hex'));
    expect(codec.parseBind(body(b))).toEqual({ portal: 'portal', statement: 'stmt', parameterFormats: [], parameters: [] });
  });

  it('decodes Execute, Close, CommandComplete and RowDescription', () => {
    expect(codec.parseExecutePortal(body(frame('E', cstr('p1'), int32(0))))).toBe('p1');
    expect(codec.parseClose(body(frame('C', Buffer.from('S'), cstr('s1'))))).toEqual({ kind: 'statement', name: 's1' });
    expect(codec.parseClose(body(frame('C', Buffer.from('P'), cstr(''))))).toEqual({ kind: 'portal', name: '' });
    expect(() => codec.parseClose(body(frame('C', Buffer.from('X'), cstr(''))))).toThrow(/invalid Close target byte 0x58/);
    expect(codec.parseCommandComplete(body(frame('C', cstr('INSERT 0 3'))))).toBe('INSERT 0 3');
    const field = (name: string): Buffer => Buffer.concat([cstr(name), int32(16384), int16(1), int32(23), int16(4), int32(-1), int16(0)]);
    expect(codec.parseRowDescriptionNames(body(frame('T', int16(2), field('id'), field('naïve'))))).toEqual(['id', 'naïve']);
    expect(() => codec.parseRowDescriptionNames(body(frame('T', int16(1), cstr('id'))))).toThrow(ProtocolError);
  });
});

describe('messages masking reads and sends', () => {
  it('parses every field of a RowDescription (OIDs above 2^31 stay unsigned)', () => {
    const body = Buffer.concat([
      Buffer.from([0, 2]),
      Buffer.from('email\0'),
      Buffer.from([0, 0, 0x40, 0x01, 0, 3, 0, 0, 0, 25, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1]),
      Buffer.from('n\0'),
      Buffer.from([0xff, 0, 0, 1, 0, 0, 0, 0, 0, 23, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0]),
    ]);
    expect(codec.parseRowDescription(body)).toEqual([
      { name: 'email', tableOid: 0x4001, attnum: 3, typeOid: 25, format: 1 },
      { name: 'n', tableOid: 0xff000001, attnum: 0, typeOid: 23, format: 0 },
    ]);
  });

  it('refuses a truncated RowDescription', () => {
    expect(() => codec.parseRowDescription(Buffer.from([0, 1, 0x61, 0, 0, 0]))).toThrow(ProtocolError);
  });

  it('serializes Describe of a portal and of a statement byte by byte', () => {
    expect(codec.serializeDescribe('portal', 'p1')).toEqual(Buffer.from([0x44, 0, 0, 0, 8, 0x50, 0x70, 0x31, 0]));
    expect(codec.serializeDescribe('statement', '')).toEqual(Buffer.from([0x44, 0, 0, 0, 6, 0x53, 0]));
  });
});
