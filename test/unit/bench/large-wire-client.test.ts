/**
 * bench:large's reader against a scripted backend on loopback: it logs in with the
 * cleartext password (as the gateway asks), counts a streamed result, reports the
 * statement's error, and cancels with the key it was given.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WireClient, WireError } from '../../../bench/large/wire-client.js';

function frame(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = type.charCodeAt(0);
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}
const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const cstring = (s: string): Buffer => Buffer.from(`${s}\0`);
function dataRow(value: string): Buffer {
  return frame('D', Buffer.concat([Buffer.from([0, 1]), int32(Buffer.byteLength(value)), Buffer.from(value)]));
}
const ready = frame('Z', Buffer.from('I'));
const error = (code: string, message: string): Buffer => frame('E', Buffer.concat([Buffer.from('SERROR\0'), Buffer.from(`C${code}\0`), Buffer.from(`M${message}\0`), Buffer.from([0])]));

interface Seen {
  startup?: Map<string, string>;
  password?: string;
  queries: string[];
  cancel?: { processId: number; key: Buffer };
}

let server: net.Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

/** A backend that asks for a cleartext password, then answers each Query with `rows` rows of "x@example.com". */
async function fakeBackend(rows: number): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { queries: [] };
  server = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let started = false;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        if (!started) {
          if (buffered.length < 4) return;
          const len = buffered.readInt32BE(0);
          if (buffered.length < len) return;
          const body = buffered.subarray(4, len);
          buffered = buffered.subarray(len);
          started = true;
          if (body.readInt32BE(0) === 80877102) {
            seen.cancel = { processId: body.readInt32BE(4), key: Buffer.from(body.subarray(8)) };
            socket.end();
            return;
          }
          const parts = body.subarray(4).toString().split('\0');
          seen.startup = new Map();
          for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) seen.startup.set(parts[i]!, parts[i + 1]!);
          socket.write(frame('R', int32(3)));
          continue;
        }
        if (buffered.length < 5) return;
        const len = buffered.readInt32BE(1);
        if (buffered.length < len + 1) return;
        const type = String.fromCharCode(buffered[0]!);
        const body = buffered.subarray(5, len + 1).toString().replace(/\0$/, '');
        buffered = buffered.subarray(len + 1);
        if (type === 'p') {
          seen.password = body;
          socket.write(Buffer.concat([frame('R', int32(0)), frame('K', Buffer.concat([int32(4242), Buffer.from([1, 2, 3, 4])])), ready]));
        } else if (type === 'Q') {
          seen.queries.push(body);
          if (body.startsWith('DELETE')) socket.write(Buffer.concat([error('42501', 'refused by rule no-writes'), ready]));
          else {
            const out: Buffer[] = [frame('T', Buffer.from([0, 0]))];
            for (let i = 0; i < rows; i++) out.push(dataRow(`row ${i} x@example.com`));
            out.push(frame('C', cstring(`SELECT ${rows}`)), ready);
            socket.write(Buffer.concat(out));
          }
        } else if (type === 'X') socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { port: (server!.address() as net.AddressInfo).port, seen };
}

describe('WireClient', () => {
  it('logs in with a cleartext password and counts a streamed result without keeping it', async () => {
    const { port, seen } = await fakeBackend(5000);
    const client = await WireClient.connect({ host: '127.0.0.1', port, user: 'agent', database: 'bench', password: 'the-token' });
    try {
      expect(seen.startup?.get('user')).toBe('agent');
      expect(seen.startup?.get('database')).toBe('bench');
      expect(seen.password).toBe('the-token');
      const outcome = await client.query('SELECT v FROM t', ['@example.com']);
      expect(outcome.error).toBeUndefined();
      expect(outcome.tags).toEqual(['SELECT 5000']);
      expect(outcome.tally.dataRows).toBe(5000);
      expect(outcome.tally.markers).toEqual([5000]);
      expect(outcome.seconds).toBeGreaterThan(0);
      // The connection is ready for the next statement, whose error is reported, not thrown.
      const refused = await client.query('DELETE FROM t');
      expect(refused.error).toBeInstanceOf(WireError);
      expect(refused.error?.code).toBe('42501');
      expect(seen.queries).toEqual(['SELECT v FROM t', 'DELETE FROM t']);
    } finally {
      await client.close();
    }
  });

  it('cancels with the BackendKeyData the server gave, on a connection of its own', async () => {
    const { port, seen } = await fakeBackend(1);
    const client = await WireClient.connect({ host: '127.0.0.1', port, user: 'agent', database: 'bench', password: 'p' });
    try {
      expect(client.backendKey.processId).toBe(4242);
      await client.cancel();
      expect(seen.cancel?.processId).toBe(4242);
      expect([...(seen.cancel?.key ?? [])]).toEqual([1, 2, 3, 4]);
    } finally {
      await client.close();
    }
  });

  it('refuses a second query while one runs', async () => {
    const { port } = await fakeBackend(1);
    const client = await WireClient.connect({ host: '127.0.0.1', port, user: 'agent', database: 'bench', password: 'p' });
    try {
      const first = client.start('SELECT 1');
      expect(() => client.start('SELECT 2')).toThrow(/already running/);
      await first.done;
    } finally {
      await client.close();
    }
  });
});
