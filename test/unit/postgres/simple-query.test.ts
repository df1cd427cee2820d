import { describe, expect, it } from 'vitest';
import { Be, serializeErrorResponse, serializeNoticeResponse, serializeReadyForQuery } from '../../../src/protocols/postgres/codec.js';
import { ProtocolError } from '../../../src/protocols/postgres/errors.js';
import { parseDataRowText, SimpleQueryResponse, type SimpleQueryEvent } from '../../../src/protocols/postgres/simple-query.js';

const int16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
const int32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};

function rowDescription(names: string[]): Buffer {
  return Buffer.concat([int16(names.length), ...names.map((n) => Buffer.concat([Buffer.from(`${n}\0`), Buffer.alloc(18)]))]);
}

function dataRow(values: (string | null)[]): Buffer {
  return Buffer.concat([
    int16(values.length),
    ...values.map((v) => (v === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(v)), Buffer.from(v)]))),
  ]);
}

const body = (frame: Buffer): Buffer => frame.subarray(5);
const commandComplete = Buffer.from('SELECT 1\0');

describe('parseDataRowText', () => {
  it('decodes text, empty strings, NULLs and multi-byte UTF-8', () => {
    expect(parseDataRowText(dataRow(['a', '', null, 'naïve ✓ "x.y"']))).toEqual(['a', '', null, 'naïve ✓ "x.y"']);
    expect(parseDataRowText(dataRow([]))).toEqual([]);
  });

  it('refuses truncated, overlong and trailing bytes', () => {
    const row = dataRow(['abc']);
    expect(() => parseDataRowText(row.subarray(0, row.length - 1))).toThrow(ProtocolError);
    expect(() => parseDataRowText(Buffer.concat([row, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => parseDataRowText(Buffer.concat([int16(1), int32(-2)]))).toThrow(/out of bounds/);
    expect(() => parseDataRowText(int16(-1))).toThrow(/negative/);
    expect(() => parseDataRowText(Buffer.alloc(1))).toThrow(/truncated/);
  });
});

describe('SimpleQueryResponse', () => {
  it('numbers result sets across statements and ignores statements without rows', () => {
    const r = new SimpleQueryResponse();
    const events: (SimpleQueryEvent | null)[] = [
      r.accept(Be.CommandComplete, Buffer.from('BEGIN\0')),
      r.accept(Be.RowDescription, rowDescription(['a', 'b'])),
      r.accept(Be.DataRow, dataRow(['1', null])),
      r.accept(Be.CommandComplete, commandComplete),
      r.accept(Be.NoticeResponse, body(serializeNoticeResponse({ severity: 'NOTICE', code: '00000', message: 'n' }))),
      r.accept(Be.RowDescription, rowDescription(['c'])),
      r.accept(Be.DataRow, dataRow(['x'])),
      r.accept(Be.DataRow, dataRow(['y'])),
      r.accept(Be.CommandComplete, commandComplete),
      r.accept(Be.ReadyForQuery, body(serializeReadyForQuery('I'))),
    ];
    expect(events.filter((e) => e !== null)).toEqual([
      { kind: 'row', result: 0, values: ['1', null] },
      { kind: 'row', result: 1, values: ['x'] },
      { kind: 'row', result: 1, values: ['y'] },
      { kind: 'ready', failure: undefined },
    ]);
  });

  it('reports the first ErrorResponse at ReadyForQuery', () => {
    const r = new SimpleQueryResponse();
    const error = (code: string, message: string): Buffer => body(serializeErrorResponse({ severity: 'ERROR', code, message }));
    expect(r.accept(Be.ErrorResponse, error('57014', 'canceling statement due to statement timeout'))).toBeNull();
    r.accept(Be.ErrorResponse, error('25P02', 'current transaction is aborted'));
    expect(r.accept(Be.ReadyForQuery, body(serializeReadyForQuery('E')))).toEqual({
      kind: 'ready',
      failure: { sqlState: '57014', message: 'canceling statement due to statement timeout' },
    });
  });

  it('refuses rows that do not match their description, and messages a query cannot produce', () => {
    expect(() => new SimpleQueryResponse().accept(Be.DataRow, dataRow(['1']))).toThrow(/without a RowDescription/);
    const r = new SimpleQueryResponse();
    r.accept(Be.RowDescription, rowDescription(['a', 'b']));
    expect(() => r.accept(Be.DataRow, dataRow(['1']))).toThrow(/1 fields, its RowDescription 2/);
    expect(() => new SimpleQueryResponse().accept(Be.CopyOutResponse, Buffer.alloc(3))).toThrow(/unexpected message 0x48/);
    const afterComplete = new SimpleQueryResponse();
    afterComplete.accept(Be.RowDescription, rowDescription(['a']));
    afterComplete.accept(Be.CommandComplete, commandComplete);
    expect(() => afterComplete.accept(Be.DataRow, dataRow(['1']))).toThrow(ProtocolError);
  });
});
