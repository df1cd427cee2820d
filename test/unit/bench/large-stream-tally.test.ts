/** bench:large counts results as they stream: the counts must not depend on how the bytes were cut. */
import { describe, expect, it } from 'vitest';
import { BackendStream, BackendStreamError, MAX_KEPT_MESSAGE } from '../../../bench/large/stream-tally.js';

function frame(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = type.charCodeAt(0);
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function dataRow(values: ReadonlyArray<string | null>): Buffer {
  const parts: Buffer[] = [];
  const count = Buffer.alloc(2);
  count.writeInt16BE(values.length);
  parts.push(count);
  for (const v of values) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(v === null ? -1 : Buffer.byteLength(v));
    parts.push(len);
    if (v !== null) parts.push(Buffer.from(v));
  }
  return frame('D', Buffer.concat(parts));
}

const cstring = (s: string): Buffer => Buffer.from(`${s}\0`);
const commandComplete = (tag: string): Buffer => frame('C', cstring(tag));
const readyForQuery = frame('Z', Buffer.from('I'));
const copyData = (text: string): Buffer => frame('d', Buffer.from(text));

const SELECT_STREAM = Buffer.concat([
  frame('T', Buffer.from([0, 0])), // a RowDescription (contents do not matter here)
  dataRow(['1', 'mail a@example.com now', null]),
  dataRow(['2', 'clean', 'b@example.com']),
  dataRow(['3', '@example.co', 'm']), // split across two values: not a match
  commandComplete('SELECT 3'),
  readyForQuery,
]);

const COPY_STREAM = Buffer.concat([
  frame('H', Buffer.from([0, 0, 2, 0, 0, 0, 0])),
  copyData('1\tx@example.com\n'),
  copyData('2\tclean\n'),
  copyData('3\ty@example.com and z@example.com\n'),
  frame('c', Buffer.alloc(0)),
  commandComplete('COPY 3'),
  readyForQuery,
]);

function feed(stream: BackendStream, bytes: Buffer, cuts: readonly number[]): void {
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    stream.push(bytes.subarray(at, cut));
    at = cut;
  }
}

describe('BackendStream', () => {
  it('counts DataRows, bytes and markers, and hands over the other messages whole', () => {
    const seen: Array<[string, string]> = [];
    const s = new BackendStream(['@example.com'], (type, body) => seen.push([String.fromCharCode(type), body.toString('latin1')]));
    s.push(SELECT_STREAM);
    expect(s.tally).toMatchObject({ bytes: SELECT_STREAM.length, dataRows: 3, messages: 6, copyData: 0, markers: [2] });
    expect(seen.map(([t]) => t)).toEqual(['T', 'C', 'Z']);
    expect(seen[1]![1]).toBe('SELECT 3\0');
  });

  it('counts COPY rows by their newlines and finds markers in CopyData', () => {
    const s = new BackendStream(['@example.com', 'nowhere']);
    s.push(COPY_STREAM);
    expect(s.tally).toMatchObject({ copyData: 3, copyLines: 3, copySplitRows: 0, dataRows: 0, markers: [3, 0] });
    expect(s.tally.copyDataBytes).toBe('1\tx@example.com\n'.length + '2\tclean\n'.length + '3\ty@example.com and z@example.com\n'.length);
  });

  it('gives the same counts however the stream is cut: at every byte, and at every pair of bytes', () => {
    for (const bytes of [SELECT_STREAM, COPY_STREAM]) {
      const whole = new BackendStream(['@example.com']);
      whole.push(bytes);
      const types: string[] = [];
      for (let i = 0; i <= bytes.length; i++) {
        const s = new BackendStream(['@example.com'], (t) => types.push(String.fromCharCode(t)));
        feed(s, bytes, [i]);
        expect(s.tally, `cut at ${i}`).toEqual(whole.tally);
      }
      for (let i = 0; i <= bytes.length; i += 3) {
        for (let j = i; j <= bytes.length; j += 2) {
          const s = new BackendStream(['@example.com']);
          feed(s, bytes, [i, j]);
          expect(s.tally, `cuts at ${i}, ${j}`).toEqual(whole.tally);
        }
      }
      // One byte at a time: markers straddle every chunk boundary.
      const single = new BackendStream(['@example.com']);
      for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
      expect(single.tally).toEqual(whole.tally);
      expect(types.length).toBeGreaterThan(0);
    }
  });

  it('counts rows split over several CopyData messages, so the caller can refuse to vouch for the marker scan', () => {
    const s = new BackendStream(['@example.com']);
    s.push(Buffer.concat([copyData('1\tx@exam'), copyData('ple.com\n'), copyData('2\ta\n3\tb\n')]));
    expect(s.tally).toMatchObject({ copyData: 3, copyLines: 3, copySplitRows: 1, markers: [0] });
  });

  it('refuses a stream that is not protocol 3 and a small message too large to keep', () => {
    const bad = Buffer.from([0x44, 0, 0, 0, 3]);
    expect(() => new BackendStream([]).push(bad)).toThrow(BackendStreamError);
    const huge = Buffer.alloc(5);
    huge[0] = 'E'.charCodeAt(0);
    huge.writeInt32BE(MAX_KEPT_MESSAGE + 5, 1);
    expect(() => new BackendStream([]).push(huge)).toThrow(/larger than/);
    // DataRow and CopyData are never kept, whatever their size.
    const bigRow = Buffer.alloc(5);
    bigRow[0] = 'D'.charCodeAt(0);
    bigRow.writeInt32BE(MAX_KEPT_MESSAGE + 5, 1);
    expect(() => new BackendStream([]).push(bigRow)).not.toThrow();
  });

  it('refuses markers that could match across a message header', () => {
    expect(() => new BackendStream(['a\0b'])).toThrow(BackendStreamError);
    expect(() => new BackendStream([''])).toThrow(BackendStreamError);
  });
});
