/**
 * What the wire maskers need to know about a PostgreSQL type, by OID: whether its values
 * are text (and may be masked as text), a container of other values (arrays, records), a
 * number whose digits could spell a card, or a binary scalar that can never carry text.
 * Anything not listed is `other`: masked to NULL whenever masking touches it (fail closed).
 */
import type { TextSyntax } from './value-masker.js';

export type TypeClass =
  /** text, varchar, bpchar, name, "char", unknown, and the catalog's text types (citext…). */
  | 'text'
  | 'json'
  /** Binary form: a version byte (1) then the JSON text. */
  | 'jsonb'
  | 'xml'
  /** Arrays of text-like elements or records: their text form is an array literal. */
  | 'text-array'
  /** Arrays whose elements are JSON, XML or not text: masked whole in text form. */
  | 'array'
  /** Anonymous records: text form `(a,"b c")`, binary form typed fields. */
  | 'record'
  | 'bytea'
  | 'integer'
  | 'numeric'
  /** Binary values that cannot carry text: bool, floats, dates and times, uuid, inet… */
  | 'binary-safe'
  | 'other';

const BUILT_IN: ReadonlyMap<number, TypeClass> = new Map<number, TypeClass>([
  ...[18, 19, 25, 705, 1042, 1043].map((oid): [number, TypeClass] => [oid, 'text']),
  [114, 'json'],
  [3802, 'jsonb'],
  [142, 'xml'],
  // "char"[], name[], text[], bpchar[], varchar[], record[]
  ...[1002, 1003, 1009, 1014, 1015, 2287].map((oid): [number, TypeClass] => [oid, 'text-array']),
  // json[], jsonb[], xml[], bytea[], then arrays of the numbers and binary-safe scalars below
  ...[199, 3807, 143, 1001, 1016, 1005, 1007, 1231, 1000, 1021, 1022, 1028, 1182, 1183, 1270, 1115, 1185, 1187, 2951, 791, 1041, 651].map(
    (oid): [number, TypeClass] => [oid, 'array'],
  ),
  [2249, 'record'],
  [17, 'bytea'],
  ...[20, 21, 23].map((oid): [number, TypeClass] => [oid, 'integer']),
  [1700, 'numeric'],
  ...[
    16, // bool
    700, 701, // float4, float8
    26, 27, 28, 29, 5069, // oid, tid, xid, cid, xid8
    24, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096, 4191, // reg* (an oid)
    1082, 1083, 1266, 1114, 1184, 1186, // date, time, timetz, timestamp, timestamptz, interval
    2950, 790, 3220, // uuid, money, pg_lsn
    869, 650, 829, 774, // inet, cidr, macaddr, macaddr8
    1560, 1562, // bit, varbit
    600, 601, 602, 603, 604, 628, 718, // point, lseg, path, box, polygon, line, circle
  ].map((oid): [number, TypeClass] => [oid, 'binary-safe']),
]);

export function typeClass(oid: number, textTypeOids?: ReadonlySet<number>): TypeClass {
  return BUILT_IN.get(oid) ?? (textTypeOids?.has(oid) === true ? 'text' : 'other');
}

/** True for types whose values are text, so a column rule may put masked text in them. */
export function isTextLike(cls: TypeClass): boolean {
  return cls === 'text' || cls === 'json' || cls === 'jsonb' || cls === 'xml';
}

/** How findings may be replaced inside the text form of a value of this class. */
export function textSyntax(cls: TypeClass): TextSyntax {
  switch (cls) {
    case 'text':
      return 'plain';
    case 'json':
    case 'jsonb':
      return 'json';
    case 'xml':
      return 'xml';
    case 'text-array':
    case 'record':
      return 'literal';
    default:
      return 'opaque';
  }
}

/**
 * A binary integer or numeric as PostgreSQL prints it, so its digits can be scanned like
 * the text form's (a card number stored as int8 or numeric(19)); undefined when the bytes
 * are not a valid value of that type.
 */
export function binaryNumberText(cls: 'integer' | 'numeric', value: Buffer): string | undefined {
  if (cls === 'integer') {
    if (value.length === 2) return String(value.readInt16BE(0));
    if (value.length === 4) return String(value.readInt32BE(0));
    if (value.length === 8) return String(value.readBigInt64BE(0));
    return undefined;
  }
  return numericText(value);
}

const NUMERIC_NEGATIVE = 0x4000;
const NUMERIC_SPECIAL: ReadonlyMap<number, string> = new Map([
  [0xc000, 'NaN'],
  [0xd000, 'Infinity'],
  [0xf000, '-Infinity'],
]);

/** numeric_send's layout: ndigits, weight, sign, dscale, then base-10000 digits. */
function numericText(value: Buffer): string | undefined {
  if (value.length < 8) return undefined;
  const ndigits = value.readInt16BE(0);
  const weight = value.readInt16BE(2);
  const sign = value.readUInt16BE(4);
  const dscale = value.readInt16BE(6);
  if (ndigits < 0 || dscale < 0 || value.length !== 8 + 2 * ndigits) return undefined;
  const special = NUMERIC_SPECIAL.get(sign);
  if (special !== undefined) return special;
  const digit = (i: number): number => (i >= 0 && i < ndigits ? value.readInt16BE(8 + 2 * i) : 0);
  let text = '';
  if (weight < 0) text = '0';
  for (let i = 0; i <= weight; i++) text += i === 0 ? String(digit(i)) : String(digit(i)).padStart(4, '0');
  if (dscale > 0) {
    let fraction = '';
    for (let i = weight + 1; fraction.length < dscale; i++) fraction += String(digit(i)).padStart(4, '0');
    text += `.${fraction.slice(0, dscale)}`;
  }
  return sign === NUMERIC_NEGATIVE ? `-${text}` : text;
}
