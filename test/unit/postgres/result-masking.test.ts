/** ResultMasking pairs the target's replies with what was sent and masks each row by its result's columns. */
import { describe, expect, it } from 'vitest';
import { Catalog } from '../../../src/masking/catalog.js';
import { emailDetector } from '../../../src/masking/email.js';
import type { StatementMaskPlan } from '../../../src/masking/plan.js';
import { compileMaskingPolicy, NO_MASKING } from '../../../src/masking/policy.js';
import { ValueMasker } from '../../../src/masking/value-masker.js';
import { parseDataRow } from '../../../src/protocols/postgres/codec.js';
import { MaskingStateError, ResultMasking } from '../../../src/protocols/postgres/result-masking.js';

const PEOPLE_OID = 16_400;
const TEXT = 25;
const catalog = new Catalog(
  [{ oid: PEOPLE_OID, schema: 'public', name: 'people', kind: 'table', columns: [{ name: 'id', attnum: 1, typeOid: 23 }, { name: 'secret', attnum: 2, typeOid: TEXT }] }],
  'agent',
);
const policy = compileMaskingPolicy([
  {
    name: 'p',
    for: undefined,
    detectors: ['email'],
    customDetectors: [],
    phoneRegions: ['US'],
    strategy: 'redact',
    columns: [{ pattern: 'public.people.secret', strategy: 'redact', label: 'SECRET' }],
    expressions: 'mask',
    denyPredicates: false,
    hashKey: undefined,
  },
])!;
const masker = new ValueMasker({ detectors: [emailDetector], contentStrategy: 'redact', hashKey: undefined });

function rowDescription(fields: ReadonlyArray<{ table?: number; attnum?: number; type?: number; format?: number }>): Buffer {
  const parts: Buffer[] = [Buffer.from([0, fields.length])];
  fields.forEach((f, i) => {
    const b = Buffer.alloc(18);
    b.writeUInt32BE(f.table ?? 0, 0);
    b.writeInt16BE(f.attnum ?? 0, 4);
    b.writeUInt32BE(f.type ?? TEXT, 6);
    b.writeInt16BE(-1, 10);
    b.writeInt32BE(-1, 12);
    b.writeInt16BE(f.format ?? 0, 16);
    parts.push(Buffer.from(`c${i}\0`), b);
  });
  return Buffer.concat(parts);
}

function dataRow(values: ReadonlyArray<string | null>): Buffer {
  const parts: Buffer[] = [Buffer.from([0, values.length])];
  for (const v of values) {
    const len = Buffer.alloc(4);
    if (v === null) len.writeInt32BE(-1);
    else len.writeInt32BE(Buffer.byteLength(v));
    parts.push(len, v === null ? Buffer.alloc(0) : Buffer.from(v));
  }
  return Buffer.concat(parts);
}

const valuesOf = (frame: Buffer | undefined, original: Buffer): Array<string | null> =>
  parseDataRow(frame === undefined ? original : frame.subarray(5)).map((v) => (v === null ? null : v.toString()));

const plan = (over: Partial<StatementMaskPlan> = {}): StatementMaskPlan => ({ returnsRows: true, outputs: undefined, ...over });

describe('ResultMasking', () => {
  it('masks a simple query\'s rows by the source column RowDescription names, and by content', () => {
    const m = new ResultMasking(policy, catalog, masker);
    m.query([plan()]);
    expect(m.rowDescription(rowDescription([{ table: PEOPLE_OID, attnum: 2 }, {}]))).toBe('forward');
    const row = dataRow(['s3cr3t', 'mail a@example.com']);
    expect(valuesOf(m.dataRow(row), row)).toEqual(['[SECRET]', 'mail [EMAIL]']);
    // NULL stays NULL, clean text passes: the row is sent as it came.
    expect(m.dataRow(dataRow([null, 'nothing here']))).toBeUndefined();
    m.resultEnded();
    m.readyForQuery();
  });

  it('pairs RowDescriptions of a multi-statement query with the statements that return rows', () => {
    const m = new ResultMasking(policy, catalog, masker);
    const derived = { mask: { strategy: 'redact' as const, label: 'SECRET', rule: 'r' }, derived: true, source: 'public.people.secret' };
    m.query([plan({ returnsRows: false, outputs: [] }), plan({ outputs: [undefined] }), plan({ outputs: [derived] })]);
    m.rowDescription(rowDescription([{}]));
    const row = dataRow(['plain']);
    expect(valuesOf(m.dataRow(row), row)).toEqual(['plain']);
    m.resultEnded();
    m.rowDescription(rowDescription([{}]));
    expect(valuesOf(m.dataRow(row), row)).toEqual(['[SECRET]']);
  });

  it('swallows the reply to its own Describe after a Bind and masks the portal\'s rows with it', () => {
    const m = new ResultMasking(policy, catalog, masker);
    m.bind('p', plan(), true);
    m.execute('p');
    m.sync();
    m.bindComplete();
    expect(m.rowDescription(rowDescription([{ table: PEOPLE_OID, attnum: 2, format: 1 }]))).toBe('swallow');
    // A client's own Describe is answered as usual.
    expect(m.rowDescription(rowDescription([{ table: PEOPLE_OID, attnum: 2 }]))).toBe('forward');
    expect(m.currentFormats()).toEqual([1]);
    const row = dataRow(['s3cr3t']);
    expect(valuesOf(m.dataRow(row), row)).toEqual(['[SECRET]']);
    m.resultEnded();
    m.readyForQuery();
  });

  it('after an error skips what the target skips, up to the Sync, and stays in step', () => {
    const m = new ResultMasking(policy, catalog, masker);
    m.bind('a', plan(), true);
    m.execute('a');
    m.sync();
    m.bind('b', plan(), true);
    m.execute('b');
    m.sync();
    m.error(); // the Bind of "a" failed: no BindComplete, no rows
    m.readyForQuery();
    m.bindComplete();
    expect(m.noData()).toBe('swallow');
    m.resultEnded();
    m.readyForQuery();
    expect(() => m.bindComplete()).toThrow(MaskingStateError);
  });

  it('refuses to pass a row whose columns it does not know', () => {
    const m = new ResultMasking(policy, catalog, masker);
    m.bind('p', plan(), false);
    m.execute('p');
    expect(() => m.dataRow(dataRow(['x']))).toThrow(MaskingStateError);
  });

  it('asks once for relations the catalog lacks, then masks their columns whole', () => {
    const m = new ResultMasking(policy, catalog, masker);
    const body = rowDescription([{ table: 99_999, attnum: 1 }]);
    expect(m.unknownRelations(body)).toEqual([99_999]);
    m.setCatalog(catalog, [99_999]);
    expect(m.unknownRelations(body)).toEqual([]);
    m.query([plan()]);
    m.rowDescription(body);
    const row = dataRow(['anything']);
    expect(valuesOf(m.dataRow(row), row)).toEqual(['[MASKED]']);
  });

  it('needs a COPY plan to mask COPY rows, unless it masks nothing', () => {
    const m = new ResultMasking(policy, catalog, masker);
    m.query([plan()]);
    expect(() => m.copyOut()).toThrow(MaskingStateError);
    const inert = new ResultMasking(NO_MASKING, new Catalog([], 'agent'), new ValueMasker({ detectors: [], contentStrategy: 'redact', hashKey: undefined }));
    expect(inert.inert).toBe(true);
    inert.query([]);
    inert.copyOut();
    expect(inert.copyData(Buffer.from('a@example.com\n'))).toBeUndefined();
  });

  it('masks CSV COPY rows by the plan, leaving the header', () => {
    const m = new ResultMasking(policy, catalog, masker);
    const mask = { mask: { strategy: 'redact' as const, label: 'SECRET', rule: 'r' }, derived: false, source: 'public.people.secret' };
    m.query([plan({ outputs: [undefined, mask], copy: { format: 'csv', delimiter: ',', nullString: '', quote: '"', escape: '"', header: true, typeOids: [23, TEXT] } })]);
    m.copyOut();
    expect(m.copyData(Buffer.from('id,secret\n'))).toBeUndefined();
    const masked = m.copyData(Buffer.from('1,s3cr3t\n'));
    expect(masked?.subarray(5).toString()).toBe('1,[SECRET]\n');
  });
});
