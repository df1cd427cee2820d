/** Outbox: adjacent views merge, a few parts are written separately, many are copied into one write. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Outbox } from '../../../src/protocols/postgres/outbox.js';

function sink(): { stream: Writable; writes: Buffer[][] } {
  const writes: Buffer[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      writes.push([chunk]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map((c) => c.chunk as Buffer));
      done();
    },
  });
  return { stream, writes };
}

describe('Outbox', () => {
  it('sends adjacent views of one received chunk as one zero-copy write', () => {
    const received = Buffer.from('abcdef');
    const out = new Outbox();
    out.add(received.subarray(0, 2));
    out.add(received.subarray(2, 6));
    const { stream, writes } = sink();
    out.flushTo(stream);
    expect(writes).toHaveLength(1);
    expect(writes[0]![0]!.buffer).toBe(received.buffer);
    expect(writes[0]![0]!.toString()).toBe('abcdef');
    expect(out.isEmpty).toBe(true);
  });

  it('writes a few separate parts as they are, and copies many into one buffer, in order', () => {
    const { stream, writes } = sink();
    const few = new Outbox();
    for (const s of ['a', 'b', 'c']) few.add(Buffer.from(s));
    few.flushTo(stream);
    expect(writes.at(-1)!.map((b) => b.toString())).toEqual(['a', 'b', 'c']);
    const many = new Outbox();
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.from(`<${i}>`));
    for (const p of parts) many.add(p);
    many.flushTo(stream);
    expect(writes.at(-1)).toHaveLength(1);
    expect(writes.at(-1)![0]!.toString()).toBe(parts.map(String).join(''));
  });
});
