import { describe, expect, it } from 'vitest';
import { MalformedMessageError, maskNoticeOrError, maskNotification } from '../../../src/masking/message-masker.js';
import { DEFAULT_DETECTORS } from '../../../src/masking/registry.js';
import { ValueMasker } from '../../../src/masking/value-masker.js';
import { Be, parseErrorFields, serializeErrorResponse } from '../../../src/protocols/postgres/codec.js';

const masker = new ValueMasker({ detectors: DEFAULT_DETECTORS, contentStrategy: 'redact', hashKey: undefined });

/** An ErrorResponse/NoticeResponse body from [code, value] pairs, in order. */
function fieldsBody(fields: ReadonlyArray<readonly [string, string | Buffer]>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of fields) parts.push(Buffer.from(code), typeof value === 'string' ? Buffer.from(value) : value, Buffer.of(0));
  parts.push(Buffer.of(0));
  return Buffer.concat(parts);
}

function bodyOf(frame: Buffer | undefined, type: number): Buffer {
  expect(frame).toBeDefined();
  expect(frame![0]).toBe(type);
  expect(frame!.readInt32BE(1)).toBe(frame!.length - 1);
  return frame!.subarray(5);
}

const uniqueViolation = serializeErrorResponse({
  severity: 'ERROR',
  code: '23505',
  message: 'duplicate key value violates unique constraint "customers_email_key"',
  detail: 'Key (email)=(ann@example.com) already exists.',
}).subarray(5);

describe('maskNoticeOrError', () => {
  it('masks the values of a unique-violation DETAIL when column rules apply, byte for byte elsewhere', () => {
    const masked = bodyOf(maskNoticeOrError(Be.ErrorResponse, uniqueViolation, masker, true), Be.ErrorResponse);
    const expected = serializeErrorResponse({
      severity: 'ERROR',
      code: '23505',
      message: 'duplicate key value violates unique constraint "customers_email_key"',
      detail: 'Key (email)=([MASKED]) already exists.',
    }).subarray(5);
    expect(masked).toEqual(expected);
  });

  it('content-scans the DETAIL when no column rules apply', () => {
    const masked = bodyOf(maskNoticeOrError(Be.ErrorResponse, uniqueViolation, masker, false), Be.ErrorResponse);
    expect(parseErrorFields(masked).get('D')).toBe('Key (email)=([EMAIL]) already exists.');
  });

  it.each([
    ['Key (a, b)=(x, y) is not present in table "t".', 'Key (a, b)=([MASKED], [MASKED]) is not present in table "t".'],
    ['Key (id)=(7) is still referenced from table "orders".', 'Key (id)=([MASKED]) is still referenced from table "orders".'],
    ['Key (email)=(a, b) is duplicated.', 'Key (email)=([MASKED]) is duplicated.'],
    ['Key (c)=(<(1,1),1>) conflicts with existing key (c)=(<(1,2),2>).', 'Key (c)=([MASKED]) conflicts with existing key (c)=([MASKED]).'],
    ['Failing row contains (1, ann@example.com, null).', 'Failing row contains ([MASKED], [MASKED], [MASKED]).'],
    ['Partition key of the failing row contains (region) = (eu).', 'Partition key of the failing row contains (region) = ([MASKED]).'],
    ['Schlüssel »(email)=(secret value)« existiert bereits.', 'Schlüssel »(email)=([MASKED])'],
  ])('%s', (detail, expected) => {
    const body = fieldsBody([
      ['S', 'ERROR'],
      ['C', '23505'],
      ['M', 'violation'],
      ['D', detail],
    ]);
    expect(parseErrorFields(bodyOf(maskNoticeOrError(Be.ErrorResponse, body, masker, true), Be.ErrorResponse)).get('D')).toBe(expected);
  });

  it('content-scans message, hint, context and internal query; leaves names and positions alone', () => {
    const body = fieldsBody([
      ['S', 'NOTICE'],
      ['M', 'sent to ann@example.com'],
      ['H', 'card 4111 1111 1111 1111'],
      ['W', 'PL/pgSQL function f() line 3 at RAISE: bob@example.com'],
      ['q', "SELECT 'carl@example.com'"],
      ['t', 'dan@example.com'],
      ['F', 'elog.c'],
    ]);
    const fields = parseErrorFields(bodyOf(maskNoticeOrError(Be.NoticeResponse, body, masker, false), Be.NoticeResponse));
    expect(Object.fromEntries(fields)).toEqual({
      S: 'NOTICE',
      M: 'sent to [EMAIL]',
      H: 'card [CARD]',
      W: 'PL/pgSQL function f() line 3 at RAISE: [EMAIL]',
      q: "SELECT '[EMAIL]'",
      t: 'dan@example.com',
      F: 'elog.c',
    });
  });

  it('returns undefined when nothing is masked', () => {
    const body = fieldsBody([
      ['S', 'ERROR'],
      ['M', 'relation "x" does not exist'],
    ]);
    expect(maskNoticeOrError(Be.ErrorResponse, body, masker, true)).toBeUndefined();
  });

  it('masks a scanned field that is not valid UTF-8 whole', () => {
    const body = fieldsBody([['M', Buffer.from([0x61, 0xff])]]);
    expect(parseErrorFields(bodyOf(maskNoticeOrError(Be.NoticeResponse, body, masker, false), Be.NoticeResponse)).get('M')).toBe('[MASKED]');
  });

  it.each([
    ['no terminator', Buffer.from('Mhello\0')],
    ['an unterminated field', Buffer.from('Mhello')],
    ['bytes after the terminator', Buffer.from('Mhello\0\0x')],
  ])('throws MalformedMessageError for %s', (_, body) => {
    expect(() => maskNoticeOrError(Be.ErrorResponse, body, masker, false)).toThrow(MalformedMessageError);
  });
});

describe('maskNotification', () => {
  const notification = (payload: string): Buffer => {
    const pid = Buffer.alloc(4);
    pid.writeInt32BE(4242);
    return Buffer.concat([pid, Buffer.from('orders\0'), Buffer.from(payload), Buffer.of(0)]);
  };

  it('masks the payload, keeping the process id and channel', () => {
    const body = bodyOf(maskNotification(notification('{"customer": "ann@example.com"}'), masker), Be.NotificationResponse);
    expect(body).toEqual(notification('{"customer": "[EMAIL]"}'));
  });

  it('returns undefined for a payload with nothing to mask', () => {
    expect(maskNotification(notification('order 17 shipped'), masker)).toBeUndefined();
  });

  it('throws MalformedMessageError for a malformed notification', () => {
    expect(() => maskNotification(Buffer.from('\0\0\0\x01chan\0payload'), masker)).toThrow(MalformedMessageError);
    expect(() => maskNotification(Buffer.from('\0\0'), masker)).toThrow(MalformedMessageError);
  });
});
