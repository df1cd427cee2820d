import { describe, expect, it } from 'vitest';
import { binaryNumberText } from '../../../src/masking/pg-types.js';
import type { MaskStrategy, OutputMask } from '../../../src/masking/plan.js';
import { DEFAULT_DETECTORS } from '../../../src/masking/registry.js';
import { MalformedRowError, RowPlanError, compileRowPlan, maskDataRow, type RowColumn } from '../../../src/masking/row-masker.js';
import { ValueMasker } from '../../../src/masking/value-masker.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const masker = new ValueMasker({ detectors: DEFAULT_DETECTORS, contentStrategy: 'redact', hashKey: KEY });
const EMAIL = 'ann@example.com';
const CARD = '4111111111111111';

const OID = { bool: 16, bytea: 17, int8: 20, int4: 23, text: 25, json: 114, varchar: 1043, numeric: 1700, uuid: 2950, jsonb: 3802, textArray: 1009, record: 2249 };
const UNKNOWN_OID = 987654;

type Value = Buffer | string | null;
const bytes = (v: Value): Buffer | null => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v);

/** A DataRow body: int16 count, then per value int32 length (-1 NULL) and bytes. */
function dataRow(values: readonly Value[]): Buffer {
  const parts = [int16(values.length)];
  for (const v of values.map(bytes)) parts.push(int32(v === null ? -1 : v.length), ...(v === null ? [] : [v]));
  return Buffer.concat(parts);
}

/** The values of a DataRow frame, after checking its type byte and length. */
function rowValues(frame: Buffer | undefined): Array<Buffer | null> {
  expect(frame).toBeDefined();
  expect(frame![0]).toBe(0x44);
  expect(frame!.readInt32BE(1)).toBe(frame!.length - 1);
  return sequence(frame!.subarray(5), 2, frame!.readInt16BE(5));
}

function sequence(buf: Buffer, at: number, count: number, prefix = 0): Array<Buffer | null> {
  const out: Array<Buffer | null> = [];
  for (let i = 0; i < count; i++) {
    const length = buf.readInt32BE(at + prefix);
    at += prefix + 4;
    out.push(length === -1 ? null : buf.subarray(at, at + length));
    at += Math.max(length, 0);
  }
  expect(at).toBe(buf.length);
  return out;
}

/** array_send: ndim, has-nulls, element OID, (size, lower bound 1) per dimension, elements. */
function binaryArray(elementOid: number, dims: readonly number[], elements: readonly Value[]): Buffer {
  const parts = [int32(dims.length), int32(elements.includes(null) ? 1 : 0), int32(elementOid)];
  for (const d of dims) parts.push(int32(d), int32(1));
  for (const e of elements.map(bytes)) parts.push(int32(e === null ? -1 : e.length), ...(e === null ? [] : [e]));
  return Buffer.concat(parts);
}

/** record_send: field count, then per field type OID, length, bytes. */
function binaryRecord(fields: ReadonlyArray<readonly [number, Value]>): Buffer {
  const parts = [int32(fields.length)];
  for (const [oid, v] of fields) {
    const b = bytes(v);
    parts.push(int32(oid), int32(b === null ? -1 : b.length), ...(b === null ? [] : [b]));
  }
  return Buffer.concat(parts);
}

/** numeric_send for a non-negative integer given as base-10000 digits. */
function binaryNumeric(digits: readonly number[], weight: number, dscale = 0, sign = 0): Buffer {
  return Buffer.concat([int16(digits.length), int16(weight), int16(sign), int16(dscale), ...digits.map(int16)]);
}

const int16 = (v: number): Buffer => Buffer.from([(v >> 8) & 0xff, v & 0xff]);
function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}
function int64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
}

const text = (typeOid: number): RowColumn => ({ typeOid, format: 0 });
const binary = (typeOid: number): RowColumn => ({ typeOid, format: 1 });
const mask = (strategy: MaskStrategy, label = 'EMAIL'): OutputMask => ({ mask: { strategy, label, rule: 'test' }, derived: false, source: 'public.c.email' });

function plan(columns: RowColumn[], masks: Array<OutputMask | undefined> = columns.map(() => undefined), scanContent = true) {
  return compileRowPlan(columns, masks, { scanContent });
}

describe('maskDataRow: text format', () => {
  it('returns undefined for a row with nothing to mask', () => {
    const p = plan([text(OID.int4), text(OID.text), text(OID.jsonb), text(OID.textArray)]);
    expect(maskDataRow(dataRow(['42', 'order 4111111111111112', '{"a": 1}', '{x,"y z"}']), p, masker)).toBeUndefined();
  });

  it('masks findings in text columns and keeps the other values byte for byte', () => {
    const p = plan([text(OID.int4), text(OID.text), text(OID.varchar)]);
    const values = rowValues(maskDataRow(dataRow(['7', `mail ${EMAIL} now`, 'ünïcødé']), p, masker));
    expect(values.map((v) => v?.toString('utf8'))).toEqual(['7', 'mail [EMAIL] now', 'ünïcødé']);
  });

  it('nulls a Luhn-valid bigint (never text an int8 client cannot decode) and keeps a Luhn-invalid one', () => {
    const p = plan([text(OID.int8), text(OID.int8)]);
    expect(rowValues(maskDataRow(dataRow([CARD, '4111111111111112']), p, masker))).toEqual([null, Buffer.from('4111111111111112')]);
  });

  it('masks masked columns whatever their content; non-text types become NULL', () => {
    const p = plan([text(OID.text), text(OID.int4), text(OID.uuid), text(OID.text)], [mask('redact'), mask('redact'), mask('hash'), mask('null')]);
    const values = rowValues(maskDataRow(dataRow(['nothing special', '12', '6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'x']), p, masker));
    expect(values).toEqual([Buffer.from('[EMAIL]'), null, null, null]);
  });

  it('keeps NULL values NULL', () => {
    const p = plan([text(OID.text), text(OID.text)], [mask('redact'), undefined]);
    expect(maskDataRow(dataRow([null, null]), p, masker)).toBeUndefined();
  });

  it('keeps a masked json value valid JSON', () => {
    const p = plan([text(OID.json), text(OID.jsonb)], [mask('redact'), mask('partial')]);
    const [json, jsonb] = rowValues(maskDataRow(dataRow(['{"e": "x"}', `"${EMAIL}"`]), p, masker));
    expect(JSON.parse(json!.toString())).toBe('[EMAIL]');
    expect(JSON.parse(jsonb!.toString())).toBe('"***@******e.com"');
  });

  it('scans array and record text forms in place', () => {
    const p = plan([text(OID.textArray), text(OID.record)]);
    const values = rowValues(maskDataRow(dataRow([`{${EMAIL},NULL,"a b"}`, `(1,${EMAIL})`]), p, masker));
    expect(values.map((v) => v?.toString())).toEqual(['{[EMAIL],NULL,"a b"}', '(1,[EMAIL])']);
  });

  it('nulls text that is not valid UTF-8 when scanning, passes it when not', () => {
    const invalid = Buffer.from([0x61, 0xff, 0x62]);
    expect(rowValues(maskDataRow(dataRow([invalid]), plan([text(OID.text)]), masker))).toEqual([null]);
    expect(maskDataRow(dataRow([invalid]), plan([text(OID.text)], [undefined], false), masker)).toBeUndefined();
  });

  it('forwards every row untouched when nothing is masked or scanned', () => {
    expect(maskDataRow(dataRow([EMAIL]), plan([text(OID.text)], [undefined], false), masker)).toBeUndefined();
  });
});

describe('maskDataRow: binary format', () => {
  it('masks text types as text and jsonb behind its version byte, still valid JSON', () => {
    const jsonb = Buffer.concat([Buffer.of(1), Buffer.from(`{"e": "${EMAIL}", "n": ${CARD}}`)]);
    const p = plan([binary(OID.text), binary(OID.jsonb)]);
    const [t, j] = rowValues(maskDataRow(dataRow([`to ${EMAIL}`, jsonb]), p, masker));
    expect(t!.toString()).toBe('to [EMAIL]');
    expect(j![0]).toBe(1);
    expect(JSON.parse(j!.subarray(1).toString())).toEqual({ e: '[EMAIL]', n: '[CARD]' });
  });

  it('writes a masked jsonb column as a JSON string after the version byte', () => {
    const p = plan([binary(OID.jsonb)], [mask('redact')]);
    const [j] = rowValues(maskDataRow(dataRow([Buffer.concat([Buffer.of(1), Buffer.from('{"a": 1}')])]), p, masker));
    expect(j).toEqual(Buffer.concat([Buffer.of(1), Buffer.from('"[EMAIL]"')]));
  });

  it('masks a 2-dimensional text[] with NULL elements element by element', () => {
    const array = binaryArray(OID.text, [2, 2], [EMAIL, null, 'plain', `x ${EMAIL}`]);
    const [masked] = rowValues(maskDataRow(dataRow([array]), plan([binary(OID.textArray)]), masker));
    expect(masked!.subarray(0, 28)).toEqual(array.subarray(0, 28)); // ndim, has-nulls, OID, dimensions
    expect(sequence(masked!, 28, 4).map((e) => e?.toString())).toEqual(['[EMAIL]', undefined, 'plain', 'x [EMAIL]']);
  });

  it('sets the has-nulls flag when an element becomes NULL', () => {
    const array = binaryArray(OID.text, [1], [EMAIL]);
    const nulling = new ValueMasker({ detectors: DEFAULT_DETECTORS, contentStrategy: 'null', hashKey: undefined });
    const [masked] = rowValues(maskDataRow(dataRow([array]), plan([binary(OID.textArray)]), nulling));
    expect(masked!.readInt32BE(4)).toBe(1);
    expect(sequence(masked!, 20, 1)).toEqual([null]);
  });

  it('masks a record field by field by their own types', () => {
    const record = binaryRecord([
      [OID.int4, int32(5)],
      [OID.text, EMAIL],
      [OID.bool, Buffer.of(1)],
      [OID.text, null],
      [UNKNOWN_OID, 'opaque bytes'],
    ]);
    const [masked] = rowValues(maskDataRow(dataRow([record]), plan([binary(OID.record)]), masker));
    expect(masked!.readInt32BE(0)).toBe(5);
    expect(sequence(masked!, 4, 5, 4)).toEqual([int32(5), Buffer.from('[EMAIL]'), Buffer.of(1), null, null]);
    expect([0, 1, 2, 3, 4].map((i) => fieldOid(masked!, i))).toEqual([OID.int4, OID.text, OID.bool, OID.text, UNKNOWN_OID]);
  });

  it('renders integers and numerics to find card numbers in them', () => {
    const p = plan([binary(OID.int8), binary(OID.int8), binary(OID.numeric)]);
    const values = rowValues(maskDataRow(dataRow([int64(4111111111111111n), int64(4111111111111112n), binaryNumeric([4111, 1111, 1111, 1111], 3)]), p, masker));
    expect(values).toEqual([null, int64(4111111111111112n), null]);
  });

  it('passes binary scalars that cannot carry text, nulls unknown binary types', () => {
    const uuid = Buffer.alloc(16, 7);
    const p = plan([binary(OID.uuid), binary(OID.bool), binary(UNKNOWN_OID)]);
    expect(rowValues(maskDataRow(dataRow([uuid, Buffer.of(1), 'x']), p, masker))).toEqual([uuid, Buffer.of(1), null]);
    expect(maskDataRow(dataRow([uuid, Buffer.of(1), 'x']), plan([binary(OID.uuid), binary(OID.bool), binary(UNKNOWN_OID)], [undefined, undefined, undefined], false), masker)).toBeUndefined();
  });

  it('nulls bytea holding a finding', () => {
    const p = plan([binary(OID.bytea), text(OID.bytea)]);
    const raw = Buffer.concat([Buffer.of(0, 1, 2), Buffer.from(EMAIL)]);
    expect(rowValues(maskDataRow(dataRow([raw, `\\x${raw.toString('hex')}`]), p, masker))).toEqual([null, null]);
    expect(maskDataRow(dataRow([Buffer.of(0, 1, 2), '\\x000102']), p, masker)).toBeUndefined();
  });

  it('nulls a masked column of a non-text binary type', () => {
    const p = plan([binary(OID.int4), binary(OID.textArray)], [mask('redact'), mask('hash')]);
    expect(rowValues(maskDataRow(dataRow([int32(1), binaryArray(OID.text, [1], ['a'])]), p, masker))).toEqual([null, null]);
  });
});

describe('maskDataRow: malformed rows', () => {
  const p = plan([text(OID.text), text(OID.text)]);

  it.each<[string, Buffer]>([
    ['too few columns', dataRow(['a'])],
    ['too many columns', dataRow(['a', 'b', 'c'])],
    ['a length past the end', Buffer.concat([int16(2), int32(1), Buffer.from('a'), int32(5), Buffer.from('b')])],
    ['a negative length', Buffer.concat([int16(2), int32(-2), int32(1), Buffer.from('b')])],
    ['trailing bytes', Buffer.concat([dataRow(['a', 'b']), Buffer.of(0)])],
    ['no column count', Buffer.of(0)],
  ])('throws MalformedRowError for %s', (_, body) => {
    expect(() => maskDataRow(body, p, masker)).toThrow(MalformedRowError);
  });

  it('throws MalformedRowError for a binary array whose dimensions exceed its bytes', () => {
    const array = binaryArray(OID.text, [1000], ['a']);
    expect(() => maskDataRow(dataRow([array]), plan([binary(OID.textArray)]), masker)).toThrow(MalformedRowError);
  });

  it('checks the column count even when nothing is masked', () => {
    expect(() => maskDataRow(dataRow(['a']), plan([text(OID.text), text(OID.text)], [undefined, undefined], false), masker)).toThrow(MalformedRowError);
  });

  it('refuses masks that do not pair with the columns', () => {
    expect(() => compileRowPlan([text(OID.text)], [], { scanContent: true })).toThrow(RowPlanError);
  });
});

describe('binaryNumberText', () => {
  it.each<[string, Buffer, string]>([
    ['an integer', binaryNumeric([4111, 1111, 1111, 1111], 3), '4111111111111111'],
    ['a fraction', binaryNumeric([1, 2345, 6780], 1, 3), '12345.678'],
    ['a small fraction', binaryNumeric([12], -1, 4), '0.0012'],
    ['a negative number with trailing zero groups', binaryNumeric([7], 2, 1, 0x4000), '-700000000.0'],
    ['NaN', binaryNumeric([], 0, 0, 0xc000), 'NaN'],
  ])('renders %s', (_, value, expected) => {
    expect(binaryNumberText('numeric', value)).toBe(expected);
  });

  it('rejects malformed values', () => {
    expect(binaryNumberText('numeric', Buffer.alloc(3))).toBeUndefined();
    expect(binaryNumberText('integer', Buffer.alloc(3))).toBeUndefined();
  });
});

function fieldOid(record: Buffer, index: number): number {
  let at = 4;
  for (let i = 0; i < index; i++) at += 8 + Math.max(record.readInt32BE(at + 4), 0);
  return record.readUInt32BE(at);
}
