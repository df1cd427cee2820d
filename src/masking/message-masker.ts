/**
 * Masks the messages other than rows that can carry data to the agent: ErrorResponse and
 * NoticeResponse fields (a unique violation's DETAIL quotes the duplicate value) and
 * NotificationResponse payloads (NOTIFY sends whatever a trigger put in them).
 *
 * PostgreSQL writes key and row values into DETAIL through fixed templates:
 *   Key (email)=(a@b.com) already exists.
 *   Key (a, b)=(x, y) is not present in table "t".   (also: is still referenced from, is duplicated)
 *   Key (c)=(v) conflicts with existing key (c)=(w).
 *   Failing row contains (1, a@b.com, null).
 *   Partition key of the failing row contains (a) = (1).
 * When column rules apply, every value in them becomes `[MASKED]` (column names stay), as
 * the masked column may be among them and the message does not say which value is whose.
 * A DETAIL with a `(…)=(…)` pair in a template not listed (another server language) loses
 * everything after the pair's `=(`. Content detectors then run on the message, detail, hint,
 * context and internal query; a field that is not valid UTF-8 becomes `[MASKED]` whole.
 */
import { isUtf8 } from 'node:buffer';
import type { ValueMasker } from './value-masker.js';

/** A message whose fields cannot be read cannot be masked: the session must end. */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

const MASKED = '[MASKED]';
const NOTIFICATION_RESPONSE = 0x41;
const DETAIL = 0x44;
/** Message, detail, hint, context (where), internal query. */
const SCANNED_FIELDS: ReadonlySet<number> = new Set([0x4d, DETAIL, 0x48, 0x57, 0x71]);

interface FieldSpan {
  readonly code: number;
  readonly start: number;
  readonly end: number;
}

/** The ErrorResponse/NoticeResponse frame (`type`) to send instead, or undefined when unchanged. */
export function maskNoticeOrError(type: number, body: Buffer, masker: ValueMasker, redactQuotedValues: boolean): Buffer | undefined {
  const fields = errorFieldSpans(body);
  let replaced: Map<FieldSpan, string> | undefined;
  for (const field of fields) {
    if (!SCANNED_FIELDS.has(field.code)) continue;
    const masked = maskField(body, field.start, field.end, masker, redactQuotedValues && field.code === DETAIL);
    if (masked !== undefined) (replaced ??= new Map()).set(field, masked);
  }
  if (replaced === undefined) return undefined;
  const parts: Buffer[] = [];
  for (const field of fields) {
    const text = replaced.get(field);
    // Masked text holds no NUL: it is made of the original's characters and safe ones.
    parts.push(Buffer.of(field.code), text === undefined ? body.subarray(field.start, field.end) : Buffer.from(text, 'utf8'), Buffer.of(0));
  }
  parts.push(Buffer.of(0));
  return frame(type, parts);
}

/** The NotificationResponse frame to send instead, or undefined when the payload is unchanged. */
export function maskNotification(body: Buffer, masker: ValueMasker): Buffer | undefined {
  const channelEnd = body.indexOf(0, 4);
  const payloadEnd = channelEnd === -1 ? -1 : body.indexOf(0, channelEnd + 1);
  if (body.length < 4 || payloadEnd !== body.length - 1) throw new MalformedMessageError('malformed NotificationResponse');
  const masked = maskField(body, channelEnd + 1, payloadEnd, masker, false);
  if (masked === undefined) return undefined;
  return frame(NOTIFICATION_RESPONSE, [body.subarray(0, channelEnd + 1), Buffer.from(masked, 'utf8'), Buffer.of(0)]);
}

function maskField(body: Buffer, start: number, end: number, masker: ValueMasker, redactValues: boolean): string | undefined {
  const text = body.toString('utf8', start, end);
  if (text.includes('\uFFFD') && !isUtf8(body.subarray(start, end))) return MASKED;
  const templated = redactValues ? redactQuotedValues(text) : undefined;
  return masker.maskMessageText(templated ?? text) ?? templated;
}

/** `(names)<separator>(values)` between a head and a tail. */
const KEY_TEMPLATES: ReadonlyArray<{ readonly pattern: RegExp; readonly separator: string }> = [
  {
    pattern: /^(?<head>Key )\((?<names>.*?)\)=\(.*\)(?<tail> (?:already exists|is duplicated|is not present in table ".*"|is still referenced from table ".*")\.)$/s,
    separator: '=',
  },
  { pattern: /^(?<head>Partition key of the failing row contains )\((?<names>.*?)\) = \(.*\)(?<tail>\.)$/s, separator: ' = ' },
];
const CONFLICT_TEMPLATE = /^Key \((?<names>.*?)\)=\(.*\) conflicts with (?<which>existing key|key) \((?<names2>.*?)\)=\(.*\)\.$/s;
const FAILING_ROW_TEMPLATE = /^Failing row contains \((?<values>.*)\)\.$/s;

/** One `[MASKED]` per comma-separated item (a value holding ", " only adds one more). */
const maskedList = (items: string): string => items.split(', ').map(() => MASKED).join(', ');

/** The DETAIL with the values its template quotes masked; undefined when it quotes none. */
function redactQuotedValues(detail: string): string | undefined {
  for (const { pattern, separator } of KEY_TEMPLATES) {
    const g = pattern.exec(detail)?.groups;
    if (g !== undefined) {
      const { head = '', names = '', tail = '' } = g;
      return `${head}(${names})${separator}(${maskedList(names)})${tail}`;
    }
  }
  const conflict = CONFLICT_TEMPLATE.exec(detail)?.groups;
  if (conflict !== undefined) {
    const { names = '', which = '', names2 = '' } = conflict;
    return `Key (${names})=(${maskedList(names)}) conflicts with ${which} (${names2})=(${maskedList(names2)}).`;
  }
  const failing = FAILING_ROW_TEMPLATE.exec(detail)?.groups;
  if (failing !== undefined) return `Failing row contains (${maskedList(failing['values']!)}).`;
  const pair = detail.indexOf(')=(');
  return pair === -1 ? undefined : `${detail.slice(0, pair + 3)}${MASKED})`;
}

/** Each field: a code byte, then a NUL-terminated string; a zero code byte ends the list. */
function errorFieldSpans(body: Buffer): FieldSpan[] {
  const fields: FieldSpan[] = [];
  let pos = 0;
  for (;;) {
    const code = body[pos];
    if (code === undefined) throw new MalformedMessageError('error or notice fields are not terminated');
    if (code === 0) break;
    const end = body.indexOf(0, pos + 1);
    if (end === -1) throw new MalformedMessageError('unterminated error or notice field');
    fields.push({ code, start: pos + 1, end });
    pos = end + 1;
  }
  if (pos !== body.length - 1) throw new MalformedMessageError('bytes after the error or notice fields');
  return fields;
}

function frame(type: number, parts: readonly Buffer[]): Buffer {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const out = Buffer.allocUnsafe(5 + size);
  out[0] = type;
  out.writeInt32BE(4 + size, 1);
  let at = 5;
  for (const p of parts) at += p.copy(out, at);
  return out;
}
