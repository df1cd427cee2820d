/**
 * Masks the rows of a `COPY … TO STDOUT` in text or CSV format. PostgreSQL sends one row
 * per CopyData message; each is split into fields as COPY FROM would read them, masked
 * like DataRow values in text form (a column rule or a finding on a column whose type is
 * not text gives the format's NULL), and written back with the format's escaping. Fields
 * that do not change keep their original bytes. Binary COPY cannot be masked field by field
 * here and must be refused before it starts.
 */
import { isUtf8 } from 'node:buffer';
import type { CopyFormat, OutputMask } from './plan.js';
import { typeClass, type TypeClass } from './pg-types.js';
import { MalformedRowError, maskTextValue } from './row-masker.js';
import type { ValueMasker } from './value-masker.js';

/** Binary COPY reached the masker: it should have been refused when the statement was planned. */
export class CopyFormatError extends Error {
  override readonly name = 'CopyFormatError';
}

const COPY_DATA = 0x64;
const NEWLINE = '\n';

interface Field {
  /** The field's bytes as sent (escaped or quoted). */
  readonly raw: string;
  /** Unescaped value; null for the format's NULL. */
  readonly value: string | null;
}

/**
 * The CopyData frame to send instead, or undefined to send the original. `masks` pairs with
 * the fields by position (empty: no column rules); `copy.typeOids` likewise (empty: types
 * unknown, every field treated as text).
 */
export function maskCopyRow(
  data: Buffer,
  copy: CopyFormat,
  masks: ReadonlyArray<OutputMask | undefined>,
  masker: ValueMasker,
  scanContent: boolean,
  isHeader: boolean,
  /** Extension and domain types whose values are text (the catalog's). */
  textTypeOids?: ReadonlySet<number>,
): Buffer | undefined {
  if (copy.format === 'binary') throw new CopyFormatError('binary COPY output cannot be masked; the statement should have been refused');
  if (isHeader || (!scanContent && masks.every((m) => m === undefined))) return undefined;
  const row = data.toString('utf8');
  if (!row.endsWith(NEWLINE)) throw new MalformedRowError('COPY row does not end with a newline');
  const fields = copy.format === 'csv' ? splitCsv(row.slice(0, -1), copy) : splitText(row.slice(0, -1), copy);
  for (const [name, expected] of [
    ['column masks', masks.length],
    ['column types', copy.typeOids.length],
  ] as const) {
    if (expected !== 0 && expected !== fields.length) throw new MalformedRowError(`COPY row has ${fields.length} fields for ${expected} ${name}`);
  }
  const invalidUtf8 = row.includes('\uFFFD') && !isUtf8(data);
  let out: string[] | undefined;
  fields.forEach((field, i) => {
    if (field.value === null) return;
    const mask = masks[i];
    if (mask === undefined && !scanContent) return;
    const cls = fieldClass(copy.typeOids[i], textTypeOids);
    // Decoding changed bytes that were not UTF-8: such a row cannot be scanned faithfully.
    const masked = mask === undefined && invalidUtf8 ? null : maskTextValue(field.value, cls, mask, masker);
    if (masked === undefined) return;
    out ??= fields.map((f) => f.raw);
    out[i] = masked === null ? copy.nullString : copy.format === 'csv' ? csvField(masked, copy, fields.length) : textField(masked, copy.delimiter);
  });
  if (out === undefined) return undefined;
  const body = Buffer.from(out.join(copy.delimiter) + NEWLINE, 'utf8');
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame[0] = COPY_DATA;
  frame.writeInt32BE(4 + body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/** A plain table column's type, or text for an expression (COPY output is read as text). */
function fieldClass(oid: number | undefined, textTypeOids: ReadonlySet<number> | undefined): TypeClass {
  return oid === undefined ? 'text' : typeClass(oid, textTypeOids);
}

// ------------------------------------------------------------------ text format

const TEXT_ESCAPES: Readonly<Record<string, string>> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
const TEXT_ESCAPED: Readonly<Record<string, string>> = { '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\' };

function splitText(line: string, copy: CopyFormat): Field[] {
  const fields: Field[] = [];
  let start = 0;
  for (let i = 0; i <= line.length; i++) {
    const c = line[i];
    if (c === '\\') {
      if (++i === line.length) throw new MalformedRowError('COPY row ends with a lone backslash');
    } else if (c === undefined || c === copy.delimiter) {
      const raw = line.slice(start, i);
      fields.push({ raw, value: raw === copy.nullString ? null : unescapeText(raw) });
      start = i + 1;
    }
  }
  return fields;
}

/** COPY FROM's reading of a text-format field: `\n`-style, octal `\123` and hex `\x4a` escapes. */
function unescapeText(raw: string): string {
  if (!raw.includes('\\')) return raw;
  return raw.replace(/\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|([\s\S]))/g, (_, octal?: string, hex?: string, char?: string) => {
    if (octal !== undefined) return String.fromCharCode(parseInt(octal, 8) & 0xff);
    if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
    return TEXT_ESCAPES[char!] ?? char!;
  });
}

function textField(value: string, delimiter: string): string {
  let out = '';
  for (const c of value) out += TEXT_ESCAPED[c] ?? (c === delimiter ? `\\${c}` : c);
  return out;
}

// ------------------------------------------------------------------ CSV

/** As COPY FROM reads CSV: quotes may open anywhere; NULL is the unquoted null string. */
function splitCsv(line: string, copy: CopyFormat): Field[] {
  const fields: Field[] = [];
  let start = 0;
  let value = '';
  let quoted = false;
  let inQuote = false;
  for (let i = 0; i <= line.length; i++) {
    const c = line[i];
    if (inQuote) {
      if (c === undefined) throw new MalformedRowError('COPY CSV row ends inside a quoted field');
      if (c === copy.escape && (line[i + 1] === copy.quote || line[i + 1] === copy.escape)) value += line[++i];
      else if (c === copy.quote) inQuote = false;
      else value += c;
    } else if (c === undefined || c === copy.delimiter) {
      const raw = line.slice(start, i);
      fields.push({ raw, value: !quoted && raw === copy.nullString ? null : value });
      start = i + 1;
      value = '';
      quoted = false;
    } else if (c === copy.quote) inQuote = quoted = true;
    else value += c;
  }
  return fields;
}

/** Quoted when COPY TO would quote it: it holds a delimiter, quote or line break, or reads as NULL. */
function csvField(value: string, copy: CopyFormat, fieldCount: number): string {
  const needsQuotes =
    value === copy.nullString ||
    value.includes(copy.delimiter) ||
    value.includes(copy.quote) ||
    value.includes('\n') ||
    value.includes('\r') ||
    // A lone `\.` would read as the end-of-data marker.
    (fieldCount === 1 && value === '\\.');
  if (!needsQuotes) return value;
  let out = copy.quote;
  for (const c of value) out += c === copy.quote || c === copy.escape ? copy.escape + c : c;
  return out + copy.quote;
}
