/**
 * Seeded fuzzing of the PostgreSQL front door over real sockets: random bytes, a valid
 * startup followed by random frames, and mutated authenticated conversations. Every
 * connection must end with the gateway answering or closing, never hanging; afterwards
 * the gateway still serves agents and holds no upstream backend.
 *
 * Reproduce a failure with FUZZ_SEED=<seed printed in the failure> (and FUZZ_ITERATIONS).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';
import {
  type BackendMessage,
  cstr,
  errorInfo,
  fe,
  int32,
  RawClient,
  typed,
  untyped,
} from '../support/raw-client.js';
import { pollUntil } from '../support/poll.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 300);
const CONCURRENCY = 6;
const MAX_MESSAGE = 64 * 1024;
const AUTH_TIMEOUT_MS = 1500;
/** How long a connection may stay silent before it is probed. */
const QUIET_MS = 150;
const FIRST_ANSWER_MS = 800;
/** Hard bound on one iteration: anything longer is a hang. */
const ITERATION_BOUND_MS = 8000;

// ------------------------------------------------------------ seeded PRNG (mulberry32)

class Rng {
  constructor(private state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

// ------------------------------------------------------------ frame builders

const int16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n, 0);
  return b;
};
const parse = (name: string, sql: string, oids: number[] = []): Buffer =>
  typed('P', Buffer.concat([cstr(name), cstr(sql), int16(oids.length), ...oids.map(int32)]));
const bind = (portal: string, stmt: string, params: string[]): Buffer =>
  typed(
    'B',
    Buffer.concat([
      cstr(portal),
      cstr(stmt),
      int16(0),
      int16(params.length),
      ...params.flatMap((p) => [int32(Buffer.byteLength(p)), Buffer.from(p)]),
      int16(0),
    ]),
  );
const describePortal = (portal: string): Buffer => typed('D', Buffer.concat([Buffer.from('P'), cstr(portal)]));
const execute = (portal: string, maxRows = 0): Buffer => typed('E', Buffer.concat([cstr(portal), int32(maxRows)]));
const sync = (): Buffer => typed('S');
const flush = (): Buffer => typed('H');
const closeStatement = (name: string): Buffer => typed('C', Buffer.concat([Buffer.from('S'), cstr(name)]));

/** Valid conversations an agent could send after authentication, as lists of frames. */
const CONVERSATIONS: ReadonlyArray<() => Buffer[]> = [
  () => [fe.query('SELECT 1')],
  () => [fe.query('SELECT id, full_name, email FROM customers ORDER BY id LIMIT 3')],
  () => [fe.query('BEGIN; SELECT count(*) FROM orders; COMMIT')],
  () => [fe.query("SELECT repeat('ab', 200) AS s, generate_series(1, 20) AS n")],
  () => [parse('', 'SELECT $1::int + 1 AS n', [23]), bind('', '', ['41']), describePortal(''), execute(''), sync()],
  () => [parse('s1', 'SELECT email FROM customers WHERE id = $1', [23]), bind('p1', 's1', ['1']), execute('p1', 1), flush(), sync(), closeStatement('s1'), sync()],
  () => [fe.query('SELECT 1'), fe.query('SELECT 2'), fe.terminate()],
  () => [fe.query('SELECT pg_sleep(0.01)'), parse('', 'SELECT now()'), bind('', '', []), execute(''), sync()],
];

// ------------------------------------------------------------ generators

type Case = { kind: 'random-bytes' | 'startup-then-random-frames' | 'mutated-conversation'; bytes: Buffer[]; note: string };

function randomBytesCase(rng: Rng): Case {
  const prefixes: Array<[string, () => Buffer]> = [
    ['none', () => Buffer.alloc(0)],
    ['ssl', fe.sslRequest],
    ['gssenc', fe.gssencRequest],
    ['cancel', () => untyped(Buffer.concat([int32(80877102), rng.bytes(8)]))],
    ['length-word', () => int32(8 + rng.int(200))],
    ['http', () => Buffer.from('GET / HTTP/1.1\r\n')],
  ];
  const [name, prefix] = rng.pick(prefixes);
  return { kind: 'random-bytes', bytes: [prefix(), rng.bytes(rng.int(300))], note: `prefix=${name}` };
}

function randomFrame(rng: Rng): Buffer {
  const type = rng.chance(0.5) ? rng.pick([...'pQPBDESHCXdcfF'].map((c) => c.charCodeAt(0))) : rng.int(256);
  const body = rng.chance(0.3) && type === 0x70 ? cstr(`eyJ${rng.bytes(40).toString('base64url')}.${rng.bytes(20).toString('base64url')}.x`) : rng.bytes(rng.int(120));
  const frame = typed(type, body);
  if (rng.chance(0.25)) frame.writeInt32BE(rng.pick([-1, 0, 3, body.length + 4 + rng.int(50), rng.int(2 ** 31)]), 1);
  return frame;
}

function startupThenRandomFramesCase(rng: Rng): Case {
  const frames = Array.from({ length: 1 + rng.int(4) }, () => randomFrame(rng));
  return { kind: 'startup-then-random-frames', bytes: [fe.startup({ user: 'agent', database: 'demo' }), ...frames], note: `${frames.length} frames` };
}

function mutate(rng: Rng, frames: Buffer[]): { frames: Buffer[]; ops: string[] } {
  let out: Buffer[] = frames.map((f) => Buffer.from(f));
  const ops: string[] = [];
  const n = 1 + rng.int(3);
  for (let k = 0; k < n && out.length > 0; k++) {
    const i = rng.int(out.length);
    const f = out[i]!;
    if (f.length === 0) continue; // truncated away entirely
    switch (rng.int(7)) {
      case 0: {
        const at = rng.int(f.length);
        f[at]! ^= 1 << rng.int(8);
        ops.push(`flip frame ${i} byte ${at}`);
        break;
      }
      case 1: {
        const cut = rng.int(f.length);
        out[i] = f.subarray(0, cut);
        out = out.slice(0, i + 1);
        ops.push(`truncate frame ${i} at ${cut}`);
        break;
      }
      case 2: {
        if (f.length < 5) break; // already truncated into its header
        const len = rng.pick([-1, -(2 ** 31), 0, 3, 4, f.length - 1 + rng.int(3) - 1, MAX_MESSAGE + 1 + rng.int(1000), rng.int(2 ** 31)]);
        f.writeInt32BE(len | 0, 1);
        ops.push(`length of frame ${i} = ${len | 0}`);
        break;
      }
      case 3:
        out.splice(i, 0, Buffer.from(f));
        ops.push(`duplicate frame ${i}`);
        break;
      case 4: {
        for (let a = out.length - 1; a > 0; a--) {
          const b = rng.int(a + 1);
          [out[a], out[b]] = [out[b]!, out[a]!];
        }
        ops.push('shuffle');
        break;
      }
      case 5:
        out.splice(i, 0, rng.bytes(1 + rng.int(20)));
        ops.push(`insert garbage before frame ${i}`);
        break;
      case 6:
        f[0] = rng.int(256);
        ops.push(`type of frame ${i} = 0x${f[0]!.toString(16)}`);
        break;
    }
  }
  return { frames: out, ops };
}

// ------------------------------------------------------------ driver

interface Outcome {
  /** 'closed': the gateway closed on the input itself; 'probed': it answered or waited, and closed on the probe. */
  end: 'closed' | 'probed';
  errors: Array<ReturnType<typeof errorInfo>>;
}

/**
 * Sends `chunks` (randomly re-split), waits for the gateway to close or to go quiet, then
 * proves it is still processing input: zeros complete any pending frame and then form an
 * invalid header, so a live gateway must now close the connection.
 */
async function drive(c: RawClient, rng: Rng, chunks: Buffer[]): Promise<Outcome> {
  const all = Buffer.concat(chunks);
  // Re-split at random points: the gateway must not depend on how TCP chunks bytes.
  let at = 0;
  while (at < all.length) {
    const step = rng.chance(0.5) ? all.length - at : 1 + rng.int(all.length - at);
    c.sendRaw(all.subarray(at, at + step));
    at += step;
    if (rng.chance(0.2)) await new Promise((r) => setTimeout(r, 2));
  }
  const before = c.received;
  const start = Date.now();
  let lastReceived = c.received;
  let lastChange = Date.now();
  for (;;) {
    if (c.isClosed) break;
    if (c.received !== lastReceived) {
      lastReceived = c.received;
      lastChange = Date.now();
    }
    const answered = c.received > before;
    if (answered && Date.now() - lastChange > QUIET_MS) break;
    if (!answered && Date.now() - start > FIRST_ANSWER_MS) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  let end: Outcome['end'] = 'closed';
  if (!c.isClosed) {
    end = 'probed';
    c.sendRaw(Buffer.alloc(MAX_MESSAGE + 16));
    if (!(await c.waitClosed(3000))) {
      throw new Error(`gateway did not close after the probe (${c.received - before} bytes answered before it)`);
    }
  }
  const errors = drain(c).filter((m) => m.type === 'E').map(errorInfo);
  return { end, errors };
}

const BACKEND_TYPES = new Set([...'R1KSTDCEINnstvAGHWcd23Z'].map((ch) => ch.charCodeAt(0)));

/** Backend messages in what the gateway sent, skipping unframed single bytes ('N' to SSLRequest). */
function drain(c: RawClient): BackendMessage[] {
  const buf = c.takeBuffered();
  const out: BackendMessage[] = [];
  let at = 0;
  while (at + 5 <= buf.length) {
    const len = buf.readInt32BE(at + 1);
    if (!BACKEND_TYPES.has(buf[at]!) || len < 4 || at + 1 + len > buf.length) {
      at++;
      continue;
    }
    out.push({ type: String.fromCharCode(buf[at]!), body: buf.subarray(at + 5, at + 1 + len) });
    at += 1 + len;
  }
  return out;
}

describe('PostgreSQL front door under fuzzing', () => {
  let stack: Stack;
  let token: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => {
    unhandled.push(err);
  };

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    stack = await startStack({ listener: { maxMessageBytes: MAX_MESSAGE, authTimeoutMs: AUTH_TIMEOUT_MS } });
    token = await stack.token();
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
    await stack?.close();
  });

  const agentBackends = async (): Promise<number> =>
    (
      await stack.postgres.pg.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = 'agent_rw' AND backend_type = 'client backend'",
      )
    )[0]!.n;

  it(`survives ${ITERATIONS} fuzzed connections (seed ${SEED})`, { timeout: 90_000 }, async () => {
    const started = Date.now();
    const kinds: Record<string, number> = {};
    const ends: Record<string, number> = {};
    const codes: Record<string, number> = {};
    let pipelined = 0;

    const runOne = async (i: number): Promise<void> => {
      const rng = new Rng((SEED ^ Math.imul(i + 1, 0x9e3779b1)) | 0);
      const which = rng.int(3);
      let description = '';
      const work = async (): Promise<Outcome> => {
        if (which === 2 && rng.chance(0.3)) {
          // Pipelined behind a valid password: handled only once authentication completes.
          const c = await RawClient.open(stack.port);
          try {
            const { frames, ops } = mutate(rng, rng.pick(CONVERSATIONS)());
            description = `pipelined mutated-conversation: ${ops.join(', ')}`;
            kinds['mutated-conversation'] = (kinds['mutated-conversation'] ?? 0) + 1;
            pipelined++;
            return await drive(c, rng, [fe.startup({ user: 'agent', database: 'demo' }), fe.password(token), ...frames]);
          } finally {
            c.destroy();
          }
        }
        if (which === 2) {
          const client = await RawClient.connect({ port: stack.port, password: token, database: 'demo' });
          try {
            const { frames, ops } = mutate(rng, rng.pick(CONVERSATIONS)());
            description = `mutated-conversation: ${ops.join(', ')}`;
            kinds['mutated-conversation'] = (kinds['mutated-conversation'] ?? 0) + 1;
            return await drive(client, rng, frames);
          } finally {
            client.destroy();
          }
        }
        const c = await RawClient.open(stack.port);
        try {
          const fuzzCase = which === 0 ? randomBytesCase(rng) : startupThenRandomFramesCase(rng);
          description = `${fuzzCase.kind}: ${fuzzCase.note}`;
          kinds[fuzzCase.kind] = (kinds[fuzzCase.kind] ?? 0) + 1;
          return await drive(c, rng, fuzzCase.bytes);
        } finally {
          c.destroy();
        }
      };
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`hung for more than ${ITERATION_BOUND_MS} ms`)), ITERATION_BOUND_MS);
      });
      try {
        const outcome = await Promise.race([work(), bound]);
        ends[outcome.end] = (ends[outcome.end] ?? 0) + 1;
        for (const e of outcome.errors) {
          codes[e.code] = (codes[e.code] ?? 0) + 1;
          // The gateway's own internal error is a bug, whatever the input. (The target's XX000s,
          // e.g. "cache lookup failed for type" for a mangled parameter OID, are relayed as they are.)
          if (/internal gateway error/.test(e.message)) throw new Error(`gateway internal error: ${e.message}`);
        }
      } catch (err) {
        throw new Error(`fuzz failure: FUZZ_SEED=${SEED} iteration ${i} (${description}): ${(err as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
    };

    let nextIndex = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (nextIndex < ITERATIONS) await runOne(nextIndex++);
      }),
    );

    // The gateway did not crash (nothing escaped into the process) and still serves agents.
    expect(unhandled, `FUZZ_SEED=${SEED}`).toEqual([]);
    const client = new pg.Client(stack.clientConfig(await stack.token()));
    await client.connect();
    const r = await client.query('SELECT current_user AS u, count(*)::int AS n FROM customers');
    expect(r.rows[0]).toMatchObject({ u: 'agent_rw' });
    expect(r.rows[0].n).toBeGreaterThan(0);
    await client.end();
    // No upstream backend outlives its session.
    await pollUntil(agentBackends, (n) => n === 0, { timeoutMs: 15_000 });

    console.log(
      `fuzz seed ${SEED}: ${ITERATIONS} connections in ${Date.now() - started} ms; cases ${JSON.stringify(kinds)}; ` +
        `${pipelined} pipelined; ends ${JSON.stringify(ends)}; SQLSTATEs ${JSON.stringify(codes)}`,
    );
    expect(Object.values(kinds).reduce((a, b) => a + b, 0)).toBe(ITERATIONS);
    expect(Object.keys(kinds).sort()).toEqual(['mutated-conversation', 'random-bytes', 'startup-then-random-frames']);
    expect(pipelined).toBeGreaterThan(0);
  });
});
