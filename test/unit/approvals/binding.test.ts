/**
 * The operation hash, byte by byte: fixed inputs against hashes computed independently (with
 * Python's hashlib over the documented encoding), then every distinction the binding relies on.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { operationHash, operationHashInput } from '../../../src/approvals/binding.js';
import type { RecordedParameter } from '../../../src/recording/recorder.js';

describe('operationHash encoding', () => {
  const fixed: [string, string, readonly RecordedParameter[] | undefined, string, string][] = [
    [
      'a simple query (no parameter list)',
      'DELETE FROM orders WHERE id = 7',
      undefined,
      '["portcullis/operation/v1","DELETE FROM orders WHERE id = 7",null]',
      'ae53d7bdfad86c304cea340a717cee033c6b624fd06bf4e8ee9574bd0eccb1dd',
    ],
    [
      'an execution with an empty parameter list',
      'DELETE FROM orders WHERE id = $1',
      [],
      '["portcullis/operation/v1","DELETE FROM orders WHERE id = $1",[]]',
      '26dffa470eef5f0f7cb611a9146998d11742c3a8e3e526151b1edf6614e33c1d',
    ],
    [
      'text, NULL and binary parameters',
      'UPDATE orders SET note = $2 WHERE id = $1',
      ['1', null, { base64: 'AAE=' }],
      '["portcullis/operation/v1","UPDATE orders SET note = $2 WHERE id = $1",[["text","1"],null,["base64","AAE="]]]',
      '1e50632495e2763260254a4b10bbd3230fd8e80f21e7e0875651e9c3f4eed2f1',
    ],
    [
      'non-ASCII text, quotes and a line feed',
      `SELECT 'café' -- "q"\n`,
      [''],
      '["portcullis/operation/v1","SELECT \'café\' -- \\"q\\"\\n",[["text",""]]]',
      'a4a8276e57ef4432b8de6803938f050800de5593ff79552f657180ac9cc03def',
    ],
  ];

  it.each(fixed)('%s', (_name, text, parameters, input, expected) => {
    expect(operationHashInput(text, parameters)).toBe(input);
    expect(createHash('sha256').update(Buffer.from(input, 'utf8')).digest('hex')).toBe(expected);
    expect(operationHash(text, parameters)).toBe(expected);
  });
});

describe('operationHash distinguishes', () => {
  const differ = (a: Parameters<typeof operationHash>, b: Parameters<typeof operationHash>): void =>
    expect(operationHash(...a)).not.toBe(operationHash(...b));

  it('a text value from binary bytes of the same value', () => {
    differ(['SELECT $1', ['1']], ['SELECT $1', [{ base64: Buffer.from('1').toString('base64') }]]);
    // ...and from a text value that happens to look like the base64.
    differ(['SELECT $1', ['MQ==']], ['SELECT $1', [{ base64: 'MQ==' }]]);
  });

  it('NULL from the empty string', () => {
    differ(['SELECT $1', [null]], ['SELECT $1', ['']]);
  });

  it('parameter order', () => {
    differ(['SELECT $1, $2', ['a', 'b']], ['SELECT $1, $2', ['b', 'a']]);
  });

  it('no parameter list from an empty one', () => {
    differ(['SELECT 1', undefined], ['SELECT 1', []]);
  });

  it('values split differently across parameters', () => {
    differ(['SELECT $1, $2', ['a,', 'b']], ['SELECT $1, $2', ['a', ',b']]);
    differ(['SELECT $1, $2', ['ab', '']], ['SELECT $1, $2', ['a', 'b']]);
  });

  it('text moved between the statement and a parameter', () => {
    differ(['SELECT 1', ['x']], ['SELECT 1x', []]);
    differ(['a","b', undefined], ['a', ['b']]);
  });

  it('any change to the text, including whitespace and a lone surrogate', () => {
    differ(['DELETE FROM orders', undefined], ['DELETE FROM orders ', undefined]);
    differ(['SELECT 1', undefined], ['select 1', undefined]);
    differ(['SELECT \ud800', undefined], ['SELECT \ufffd', undefined]);
  });

  it('and is stable for equal input', () => {
    expect(operationHash('SELECT $1', ['1', null, { base64: 'AA==' }])).toBe(operationHash('SELECT $1', ['1', null, { base64: 'AA==' }]));
  });
});
