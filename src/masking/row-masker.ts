/**
 * Masks DataRow messages. A row plan is compiled once per RowDescription (what each column
 * is and what masking must do to it); each row is then walked once, decoding only the
 * values that must be scanned. When nothing changes — the common case — the caller gets
 * `undefined` and forwards the original bytes.
 *
 * Type-safe and fail closed:
 * - a masked column of a text type (text, varchar, json, jsonb, xml, citext…) gets masked
 *   text (still valid JSON for json/jsonb); any other type gets NULL, never text the client
 *   could not decode;
 * - content findings inside the text form of a type that is not text (a Luhn-valid int8, an
 *   int8[] holding one) make the value NULL; inside arrays, records, JSON and XML they are
 *   replaced in place (see `TextSyntax`);
 * - binary values: text types are scanned as text; arrays and records are decoded and their
 *   elements scanned by their own types; integers and numerics are rendered and scanned like
 *   their text; bool, floats, dates, uuid, inet… pass; a binary value of a type not known
 *   here cannot be read, so it becomes NULL when content scanning is on;
 * - a text value that is not valid UTF-8 cannot be scanned faithfully (decoding would change
 *   its bytes), so it becomes NULL when content scanning is on;
 * - a row that does not match its description, or is malformed, throws MalformedRowError:
 *   the session ends rather than forward a row it could not mask.
 */
import { isUtf8 } from 'node:buffer';
import type { OutputMask } from './plan.js';
import { binaryNumberText, isTextLike, textSyntax, typeClass, type TypeClass } from './pg-types.js';
import type { ValueMasker } from './value-masker.js';

export class MalformedRowError extends Error {
  override readonly name = 'MalformedRowError';
}

/** The masks given do not pair with the columns: a caller bug, never guessed around. */
export class RowPlanError extends Error {
  override readonly name = 'RowPlanError';
}

export interface RowColumn {
  readonly typeOid: number;
  /** 0 text, 1 binary: the column's format code from RowDescription. */
  readonly format: 0 | 1;
}

export interface RowPlanOptions {
  /** Run the content detectors on values no column rule masks. */
  readonly scanContent: boolean;
  /** Extension and domain types whose values are text (the catalog's). */
  readonly textTypeOids?: ReadonlySet<number>;
}

/** What masking does to one column's non-NULL values. */
export type ColumnAction =
  | { readonly kind: 'pass' }
  | { readonly kind: 'null' }
  | { readonly kind: 'mask'; readonly cls: TypeClass; readonly format: 0 | 1; readonly mask: OutputMask }
  | { readonly kind: 'scan'; readonly cls: TypeClass; readonly format: 0 | 1 };

export interface RowMaskPlan {
  readonly columns: readonly ColumnAction[];
  /** No column can change: rows only have their column count checked. */
  readonly passthrough: boolean;
  readonly textTypeOids: ReadonlySet<number> | undefined;
}

/** undefined: unchanged; null: SQL NULL; otherwise the value's new bytes. */
type MaskedValue = Buffer | null | undefined;

const DATA_ROW = 0x44;
const JSONB_VERSION = 1;
/** Arrays in records in arrays…: deeper nesting than this is masked to NULL. */
const MAX_NESTING = 8;
/** PostgreSQL's MAXDIM. */
const MAX_ARRAY_DIMENSIONS = 6;

export function compileRowPlan(
  columns: ReadonlyArray<RowColumn>,
  masks: ReadonlyArray<OutputMask | undefined>,
  options: RowPlanOptions,
): RowMaskPlan {
  if (masks.length !== columns.length) {
    throw new RowPlanError(`${masks.length} column masks for ${columns.length} columns`);
  }
  const actions = columns.map((c, i) => columnAction(typeClass(c.typeOid, options.textTypeOids), c.format, masks[i], options.scanContent));
  return { columns: actions, passthrough: actions.every((a) => a.kind === 'pass'), textTypeOids: options.textTypeOids };
}

function columnAction(cls: TypeClass, format: 0 | 1, mask: OutputMask | undefined, scanContent: boolean): ColumnAction {
  if (mask !== undefined) {
    return mask.mask.strategy === 'null' || !isTextLike(cls) ? { kind: 'null' } : { kind: 'mask', cls, format, mask };
  }
  if (!scanContent) return { kind: 'pass' };
  if (format === 1 && cls === 'binary-safe') return { kind: 'pass' };
  if (format === 1 && cls === 'other') return { kind: 'null' };
  return { kind: 'scan', cls, format };
}

/** The DataRow frame to send instead of this one, or undefined to send it unchanged. */
export function maskDataRow(body: Buffer, plan: RowMaskPlan, masker: ValueMasker): Buffer | undefined {
  if (body.length < 2) throw new MalformedRowError('DataRow too short for its column count');
  const count = body.readInt16BE(0);
  if (count !== plan.columns.length) {
    throw new MalformedRowError(`DataRow has ${count} columns where its description has ${plan.columns.length}`);
  }
  if (plan.passthrough) return undefined;
  let changes: MaskedValue[] | undefined;
  // Plain text columns are scanned together, once per row (see ValueMasker.maskPlainContents).
  const textColumns: number[] = [];
  const texts: string[] = [];
  let pos = 2;
  for (let i = 0; i < count; i++) {
    const length = valueLength(body, pos);
    pos += 4;
    if (length === -1) continue;
    const action = plan.columns[i]!;
    let masked: MaskedValue;
    if (action.kind === 'null') masked = null;
    else if (action.kind === 'scan' && action.cls === 'text') {
      const text = body.toString('utf8', pos, pos + length);
      if (validUtf8(text, body, pos, pos + length)) {
        textColumns.push(i);
        texts.push(text);
      } else masked = null;
    } else if (action.kind !== 'pass') masked = maskValue(body, pos, pos + length, action, plan.textTypeOids, masker);
    if (masked !== undefined) (changes ??= new Array<MaskedValue>(count))[i] = masked;
    pos += length;
  }
  if (pos !== body.length) throw new MalformedRowError('DataRow has bytes after its last column');
  if (texts.length > 0) {
    masker.maskPlainContents(texts).forEach((masked, k) => {
      if (masked !== undefined) (changes ??= new Array<MaskedValue>(count))[textColumns[k]!] = toBytes(masked);
    });
  }
  return changes === undefined ? undefined : dataRowFrame(body, changes);
}

function valueLength(buf: Buffer, pos: number): number {
  if (pos + 4 > buf.length) throw new MalformedRowError('value length runs past the end of its message');
  const length = buf.readInt32BE(pos);
  if (length < -1 || pos + 4 + length > buf.length) throw new MalformedRowError(`value length ${length} does not fit its message`);
  return length;
}

function maskValue(
  body: Buffer,
  start: number,
  end: number,
  action: Extract<ColumnAction, { kind: 'mask' | 'scan' }>,
  textTypeOids: ReadonlySet<number> | undefined,
  masker: ValueMasker,
): MaskedValue {
  const mask = action.kind === 'mask' ? action.mask : undefined;
  if (action.format === 1) return maskBinaryValue(body.subarray(start, end), action.cls, mask, textTypeOids, masker, 0);
  // The hot case under column rules: a redacted column's value is replaced unread.
  if (mask !== undefined && !masker.readsValue(mask)) return toBytes(maskTextValue('', action.cls, mask, masker));
  const text = body.toString('utf8', start, end);
  if (mask === undefined && !validUtf8(text, body, start, end)) return null;
  return toBytes(maskTextValue(text, action.cls, mask, masker));
}

/**
 * A value in text form (a DataRow's, or a COPY field's): masked under `mask` when given,
 * content-scanned otherwise.
 */
export function maskTextValue(text: string, cls: TypeClass, mask: OutputMask | undefined, masker: ValueMasker): string | null | undefined {
  if (mask !== undefined) {
    if (!isTextLike(cls)) return null;
    // Starring an XML document's letters would leave markup that no longer parses.
    const masked = masker.maskColumn(text, cls === 'xml' && mask.mask.strategy === 'partial' ? { ...mask, derived: true } : mask);
    return masked !== null && (cls === 'json' || cls === 'jsonb') ? JSON.stringify(masked) : masked;
  }
  if (cls === 'bytea') return bytesHaveFindings(byteaTextBytes(text), masker) ? null : undefined;
  return masker.maskContentIn(text, textSyntax(cls));
}

function maskBinaryValue(
  value: Buffer,
  cls: TypeClass,
  mask: OutputMask | undefined,
  textTypeOids: ReadonlySet<number> | undefined,
  masker: ValueMasker,
  depth: number,
): MaskedValue {
  if (depth > MAX_NESTING) return null;
  switch (cls) {
    case 'text':
    case 'json':
    case 'xml':
    case 'jsonb': {
      const offset = cls === 'jsonb' ? 1 : 0;
      if (cls === 'jsonb' && value[0] !== JSONB_VERSION) return null;
      const text = value.toString('utf8', offset);
      if (mask === undefined && !validUtf8(text, value, offset, value.length)) return null;
      const masked = maskTextValue(text, cls, mask, masker);
      if (masked === undefined || masked === null) return masked;
      return offset === 0 ? Buffer.from(masked, 'utf8') : Buffer.concat([Buffer.of(JSONB_VERSION), Buffer.from(masked, 'utf8')]);
    }
    case 'text-array':
    case 'array':
      return mask === undefined ? maskBinaryArray(value, textTypeOids, masker, depth) : null;
    case 'record':
      return mask === undefined ? maskBinaryRecord(value, textTypeOids, masker, depth) : null;
    case 'bytea':
      return mask === undefined && !bytesHaveFindings(value, masker) ? undefined : null;
    case 'integer':
    case 'numeric': {
      if (mask !== undefined) return null;
      const text = binaryNumberText(cls, value);
      if (text === undefined) throw new MalformedRowError(`a binary ${cls} value of ${value.length} bytes is malformed`);
      return masker.maskContentIn(text, 'opaque') === undefined ? undefined : null;
    }
    case 'binary-safe':
      return mask === undefined ? undefined : null;
    case 'other':
      return null;
  }
}

/**
 * array_send's layout: ndim, has-nulls flag, element type OID, (size, lower bound) per
 * dimension, then each element as length (-1 for NULL) and bytes.
 */
function maskBinaryArray(value: Buffer, textTypeOids: ReadonlySet<number> | undefined, masker: ValueMasker, depth: number): MaskedValue {
  if (value.length < 12) throw new MalformedRowError('binary array shorter than its header');
  const dimensions = value.readInt32BE(0);
  const flags = value.readInt32BE(4);
  const elementClass = typeClass(value.readUInt32BE(8), textTypeOids);
  const header = 12 + 8 * dimensions;
  if (dimensions < 0 || dimensions > MAX_ARRAY_DIMENSIONS || (flags !== 0 && flags !== 1) || value.length < header) {
    throw new MalformedRowError('binary array header is malformed');
  }
  let count = dimensions === 0 ? 0 : 1;
  for (let d = 0; d < dimensions; d++) {
    const size = value.readInt32BE(12 + 8 * d);
    // Every element takes at least its 4-byte length: a larger count cannot be real.
    if (size < 0 || (count *= size) > (value.length - header) / 4) throw new MalformedRowError('binary array dimensions exceed its bytes');
  }
  if (count === 0 || elementClass === 'binary-safe') return undefined;
  if (elementClass === 'other') return null;
  const elements = maskSequence(value, header, count, () => elementClass, textTypeOids, masker, depth);
  if (elements === undefined) return undefined;
  const rebuilt = Buffer.concat([value.subarray(0, header), ...elements.parts]);
  rebuilt.writeInt32BE(elements.hasNull ? 1 : 0, 4);
  return rebuilt;
}

/** record_send's layout: field count, then each field as type OID, length (-1 for NULL), bytes. */
function maskBinaryRecord(value: Buffer, textTypeOids: ReadonlySet<number> | undefined, masker: ValueMasker, depth: number): MaskedValue {
  if (value.length < 4) throw new MalformedRowError('binary record shorter than its field count');
  const count = value.readInt32BE(0);
  if (count < 0 || count > (value.length - 4) / 8) throw new MalformedRowError('binary record field count exceeds its bytes');
  const fieldClass = (at: number): TypeClass => typeClass(value.readUInt32BE(at), textTypeOids);
  const fields = maskSequence(value, 4, count, fieldClass, textTypeOids, masker, depth, 4);
  return fields === undefined ? undefined : Buffer.concat([value.subarray(0, 4), ...fields.parts]);
}

/**
 * Walks `count` length-prefixed values from `start` (each after `prefix` bytes of its own,
 * a record field's type OID), masking each by the class `classAt(its position)` gives.
 * Returns the re-encoded values when any changed.
 */
function maskSequence(
  buf: Buffer,
  start: number,
  count: number,
  classAt: (at: number) => TypeClass,
  textTypeOids: ReadonlySet<number> | undefined,
  masker: ValueMasker,
  depth: number,
  prefix = 0,
): { readonly parts: Buffer[]; readonly hasNull: boolean } | undefined {
  const spans: Array<readonly [at: number, length: number, masked: MaskedValue]> = [];
  let changed = false;
  let pos = start;
  for (let i = 0; i < count; i++) {
    if (pos + prefix > buf.length) throw new MalformedRowError('binary container runs past its value');
    const cls = classAt(pos);
    const length = valueLength(buf, pos + prefix);
    const valueStart = pos + prefix + 4;
    const masked = length === -1 ? undefined : maskBinaryValue(buf.subarray(valueStart, valueStart + length), cls, undefined, textTypeOids, masker, depth + 1);
    changed ||= masked !== undefined;
    spans.push([pos, length, masked]);
    pos = valueStart + Math.max(length, 0);
  }
  if (pos !== buf.length) throw new MalformedRowError('binary container has bytes after its last value');
  if (!changed) return undefined;
  const parts: Buffer[] = [];
  let hasNull = false;
  for (const [at, length, masked] of spans) {
    const value = masked === undefined ? (length === -1 ? null : buf.subarray(at + prefix + 4, at + prefix + 4 + length)) : masked;
    hasNull ||= value === null;
    const head = Buffer.allocUnsafe(prefix + 4);
    buf.copy(head, 0, at, at + prefix);
    head.writeInt32BE(value === null ? -1 : value.length, prefix);
    parts.push(head);
    if (value !== null) parts.push(value);
  }
  return { parts, hasNull };
}

function dataRowFrame(body: Buffer, changes: readonly MaskedValue[]): Buffer {
  let size = body.length;
  let pos = 2;
  for (let i = 0; i < changes.length; i++) {
    const length = body.readInt32BE(pos);
    pos += 4 + Math.max(length, 0);
    const change = changes[i];
    if (change !== undefined) size += (change === null ? 0 : change.length) - Math.max(length, 0);
  }
  const frame = Buffer.allocUnsafe(5 + size);
  frame[0] = DATA_ROW;
  frame.writeInt32BE(4 + size, 1);
  let out = body.copy(frame, 5, 0, 2) + 5;
  pos = 2;
  for (let i = 0; i < changes.length; i++) {
    const length = body.readInt32BE(pos);
    const end = pos + 4 + Math.max(length, 0);
    const change = changes[i];
    if (change === undefined) out += body.copy(frame, out, pos, end);
    else {
      out = frame.writeInt32BE(change === null ? -1 : change.length, out);
      if (change !== null) out += change.copy(frame, out);
    }
    pos = end;
  }
  return frame;
}

/** Cheap for the common case: only text containing U+FFFD needs its bytes checked. */
function validUtf8(text: string, buf: Buffer, start: number, end: number): boolean {
  return !text.includes('\uFFFD') || isUtf8(buf.subarray(start, end));
}

function toBytes(text: string | null | undefined): MaskedValue {
  return text === undefined || text === null ? text : Buffer.from(text, 'utf8');
}

/** bytea's text form: `\x` and hex digits (bytea_output hex), else the escape format as is. */
function byteaTextBytes(text: string): Buffer {
  return text.startsWith('\\x') ? Buffer.from(text.slice(2), 'hex') : Buffer.from(text, 'latin1');
}

/**
 * Bytes read one character per byte: whatever ASCII text (an email, a card number) they
 * hold is found, whatever encoding surrounds it.
 */
function bytesHaveFindings(bytes: Buffer, masker: ValueMasker): boolean {
  return masker.maskContentIn(bytes.toString('latin1'), 'opaque') !== undefined;
}
