import { describe, expect, it } from 'vitest';
import { CopyFormatError, maskCopyRow } from '../../../src/masking/copy-masker.js';
import type { CopyFormat, MaskStrategy, OutputMask } from '../../../src/masking/plan.js';
import { DEFAULT_DETECTORS } from '../../../src/masking/registry.js';
import { MalformedRowError } from '../../../src/masking/row-masker.js';
import { ValueMasker } from '../../../src/masking/value-masker.js';

const masker = new ValueMasker({ detectors: DEFAULT_DETECTORS, contentStrategy: 'redact', hashKey: undefined });
const INT4 = 23;
const INT8 = 20;
const TEXT = 25;
const JSONB = 3802;

const TEXT_COPY: CopyFormat = { format: 'text', delimiter: '\t', nullString: '\\N', quote: '"', escape: '"', header: false, typeOids: [] };
const CSV_COPY: CopyFormat = { format: 'csv', delimiter: ',', nullString: '', quote: '"', escape: '"', header: true, typeOids: [] };
const mask = (strategy: MaskStrategy): OutputMask => ({ mask: { strategy, label: 'EMAIL', rule: 'test' }, derived: false, source: 'public.c.email' });

/** The row a CopyData frame carries, after checking its type byte and length. */
function rowOf(frame: Buffer | undefined): string {
  expect(frame).toBeDefined();
  expect(frame![0]).toBe(0x64);
  expect(frame!.readInt32BE(1)).toBe(frame!.length - 1);
  return frame!.subarray(5).toString('utf8');
}

const copyRow = (row: string, copy: CopyFormat, masks: Array<OutputMask | undefined> = [], scanContent = true, isHeader = false) =>
  maskCopyRow(Buffer.from(row, 'utf8'), copy, masks, masker, scanContent, isHeader);

describe('maskCopyRow: text format', () => {
  it('returns undefined for a row with nothing to mask', () => {
    expect(copyRow('1\tplain\t\\N\torder 4111111111111112\n', TEXT_COPY)).toBeUndefined();
  });

  it('masks unescaped values and escapes them again; other fields keep their bytes', () => {
    const row = '1\tann@example.com\t\\N\tline\\nbob@example.com\\tx\\\\y\tkeep\\\\me\n';
    expect(rowOf(copyRow(row, { ...TEXT_COPY, typeOids: [INT4, TEXT, TEXT, TEXT, TEXT] }))).toBe('1\t[EMAIL]\t\\N\tline\\n[EMAIL]\\tx\\\\y\tkeep\\\\me\n');
  });

  it('reads octal and hex escapes before scanning', () => {
    // \100 is "@" in octal, \x2e is "." in hex.
    expect(rowOf(copyRow('ann\\100example\\x2ecom\n', TEXT_COPY))).toBe('[EMAIL]\n');
  });

  it('escapes the delimiter and backslashes a partial mask keeps', () => {
    const copy = { ...TEXT_COPY, delimiter: '|' };
    const masked = rowOf(copyRow('a\\|bc\\\\defghij|x\n', copy, [mask('partial'), undefined]));
    expect(masked).toBe('*\\|**\\\\***ghij|x\n');
  });

  it('writes NULL for a masked or found value in a column that is not text', () => {
    const copy = { ...TEXT_COPY, typeOids: [INT8, INT4, TEXT] };
    expect(rowOf(copyRow('4111111111111111\t5\tx\n', copy, [undefined, mask('redact'), mask('redact')]))).toBe('\\N\t\\N\t[EMAIL]\n');
  });

  it('keeps a masked jsonb value valid JSON inside the row', () => {
    const copy = { ...TEXT_COPY, typeOids: [JSONB] };
    expect(rowOf(copyRow('{"a": "x"}\n', copy, [mask('redact')]))).toBe('"[EMAIL]"\n');
  });

  it('leaves every row alone when nothing is masked or scanned', () => {
    expect(copyRow('ann@example.com\n', TEXT_COPY, [undefined], false)).toBeUndefined();
  });
});

describe('maskCopyRow: CSV', () => {
  it('parses quoted fields holding delimiters, quotes and newlines; quotes what needs it', () => {
    const row = '1,"ann@example.com, x","multi\nline ""q""",,""\n';
    expect(rowOf(copyRow(row, CSV_COPY))).toBe('1,"[EMAIL], x","multi\nline ""q""",,""\n');
  });

  it('writes the null string for NULL and quotes a value that would read as NULL', () => {
    const copy = { ...CSV_COPY, nullString: 'NULL', typeOids: [INT8, TEXT] };
    const masked = rowOf(copyRow('4111111111111111,NULL\n', copy, [undefined, undefined]));
    expect(masked).toBe('NULL,NULL\n');
    const partial = rowOf(copyRow('"a,bcdefghij",x\n', { ...CSV_COPY, typeOids: [TEXT, TEXT] }, [mask('partial'), undefined]));
    expect(partial).toBe('"*,*****ghij",x\n');
  });

  it('honours a custom quote and escape', () => {
    const copy = { ...CSV_COPY, quote: "'", escape: '\\' };
    expect(rowOf(copyRow("'it\\'s ann@example.com',2\n", copy))).toBe("'it\\'s [EMAIL]',2\n");
  });

  it('passes the header row', () => {
    expect(copyRow('email,password_ann@example.com\n', CSV_COPY, [mask('redact'), mask('redact')], true, true)).toBeUndefined();
  });
});

describe('maskCopyRow: refusals', () => {
  it('throws for binary COPY', () => {
    expect(() => copyRow('x', { ...TEXT_COPY, format: 'binary' })).toThrow(CopyFormatError);
  });

  it.each<[string, string, CopyFormat]>([
    ['no newline', 'a\tb', TEXT_COPY],
    ['a lone backslash at the end', 'a\tb\\\n', TEXT_COPY],
    ['more fields than types', 'a\tb\n', { ...TEXT_COPY, typeOids: [TEXT] }],
    ['an unterminated quote', '"a,b\n', CSV_COPY],
  ])('throws MalformedRowError for %s', (_, row, copy) => {
    expect(() => copyRow(row, copy)).toThrow(MalformedRowError);
  });

  it('throws MalformedRowError when the masks do not pair with the fields', () => {
    expect(() => copyRow('a\tb\n', TEXT_COPY, [mask('redact')])).toThrow(MalformedRowError);
  });
});
