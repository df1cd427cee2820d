import { describe, expect, it } from 'vitest';
import { emailDetector } from '../../../src/masking/email.js';
import type { MaskStrategy } from '../../../src/masking/plan.js';
import { DEFAULT_DETECTORS } from '../../../src/masking/registry.js';
import { Prng } from '../../../bench/mask/prng.js';
import {
  DEFAULT_HOLD_BYTES,
  DEFAULT_MAX_BLOCK_BYTES,
  maskWholeOutput,
  StreamMasker,
  StreamMaskerOptionsError,
  streamValueMasker,
  type StreamMaskerOptions,
  type StreamValueMasker,
} from '../../../src/masking/stream-masker.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const masker = (contentStrategy: MaskStrategy = 'redact'): StreamValueMasker =>
  streamValueMasker({ detectors: DEFAULT_DETECTORS, contentStrategy, hashKey: KEY });

// ------------------------------------------------------------------ seeded generator


const DIGITS = '0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALNUM = `${UPPER}abcdefghijklmnopqrstuvwxyz${DIGITS}`;
const BASE64 = `${ALNUM}+/`;
const BASE64URL = `${ALNUM}_-`;

function luhnCheckDigit(body: string): string {
  let sum = 0;
  [...body].reverse().forEach((c, i) => {
    const d = Number(c) * (i % 2 === 0 ? 2 : 1);
    sum += d > 9 ? d - 9 : d;
  });
  return String((10 - (sum % 10)) % 10);
}

function card(rng: Prng): string {
  const body = `4${rng.chars(DIGITS, 14)}`;
  const digits = body + luhnCheckDigit(body);
  const sep = rng.pick(['', ' ', '-']);
  return sep === '' ? digits : digits.match(/\d{4}/g)!.join(sep);
}

function ssn(rng: Prng): string {
  for (;;) {
    const digits = `${String(rng.int(1, 665)).padStart(3, '0')}${String(rng.int(1, 99)).padStart(2, '0')}${String(rng.int(1, 9999)).padStart(4, '0')}`;
    if (['078051120', '219099999', '123456789', '457555462'].includes(digits)) continue;
    return rng.chance(0.5) ? `${digits.slice(0, 3)}-${digits.slice(3, 5)}-${digits.slice(5)}` : `SSN: ${digits}`;
  }
}

function iban(rng: Prng): string {
  const bban = rng.chars(DIGITS, 18);
  // D=13, E=14, check digits 00 while computing them.
  const check = String(98n - (BigInt(`${bban}131400`) % 97n)).padStart(2, '0');
  const compact = `DE${check}${bban}`;
  return rng.chance(0.5) ? compact : compact.match(/.{1,4}/g)!.join(' ');
}

const b64url = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('base64url');

function jwt(rng: Prng): string {
  // Some payloads are longer than the hold: a token must still never be cut.
  const payload = { sub: rng.chars(DIGITS, 6), name: rng.pick(['ann', 'bob']), pad: rng.chars(ALNUM, rng.chance(0.3) ? rng.int(300, 1200) : rng.int(0, 40)) };
  return `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}.${rng.chars(BASE64URL, 43)}`;
}

function pem(rng: Prng): string {
  const kind = rng.pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'OPENSSH PRIVATE KEY']);
  const lines = Array.from({ length: rng.int(2, 20) }, () => rng.chars(BASE64, 64));
  return [`-----BEGIN ${kind}-----`, ...lines, `-----END ${kind}-----`].join('\n');
}

function awsSecret(rng: Prng): string {
  for (;;) {
    const key = rng.chars(BASE64, 40);
    if (/[A-Z]/.test(key) && /[a-z]/.test(key)) return key;
  }
}

/** [text as written, the sensitive part the one-shot masker must hide]. */
const SENSITIVE: ReadonlyArray<(rng: Prng) => [string, string]> = [
  (rng) => {
    const email = `${rng.pick(['ann', 'bob.smith', 'c_d'])}${rng.int(1, 999)}@${rng.pick(['example.com', 'mail.example.org'])}`;
    return [email, email];
  },
  (rng) => {
    const c = card(rng);
    return [c, c];
  },
  (rng) => {
    const s = ssn(rng);
    return [s, s.replace('SSN: ', '')];
  },
  (rng) => {
    const i = iban(rng);
    return [i, i];
  },
  (rng) => {
    const p = rng.pick(['(415) 555-2671', '+44 20 7946 0958', '+1 415 555 2671']);
    return [p, p];
  },
  (rng) => {
    const t = `ghp_${rng.chars(ALNUM, 36)}`;
    return [t, t];
  },
  (rng) => {
    const t = `AKIA${rng.chars(UPPER + DIGITS, 16)}`;
    return [t, t];
  },
  (rng) => {
    const k = awsSecret(rng);
    return [`aws secret key ${k}`, k];
  },
  (rng) => {
    const t = `xoxb-${rng.chars(DIGITS, 12)}-${rng.chars(DIGITS, 12)}-${rng.chars(ALNUM, 24)}`;
    return [t, t];
  },
  (rng) => {
    const t = jwt(rng);
    return [t, t];
  },
  (rng) => {
    const p = pem(rng);
    return [p, p.split('\n')[1]!];
  },
  (rng) => {
    const v = rng.chars(ALNUM, 14);
    return [`password=${v}`, v];
  },
  (rng) => {
    // Non-ASCII inside a value: `partial` stars letters by code point, `hash` digests UTF-8.
    const v = `${rng.pick(['mötley', 'çà', '日本', '😀x'])}${rng.chars(ALNUM, 10)}`;
    return [`passwd: ${v}`, v];
  },
  () => ['téléphone 4155552671', '4155552671'],
];

const NOISE = [
  'lorem ipsum dolor sit amet',
  'status: ok',
  'naïve café — déjà vu',
  '日本語のテキストです',
  'emoji 😀👍 done',
  'total 42',
  '2024-01-15 12:30:45 INFO started',
  'order 4111111111111112 shipped',
  'sha 3f786850e387550fdab836ed7e6dc881de23001b',
  '-rw-r--r-- 1 root root 4096 Jan  1 00:00 /etc/hosts',
  'ERROR: connection refused (errno 111)',
  '\tindented\tcolumns\t',
  '$ ls -la',
];

interface Generated {
  readonly text: string;
  readonly secrets: readonly string[];
}

function generate(rng: Prng, items: number): Generated {
  const parts: string[] = [];
  const secrets: string[] = [];
  for (let i = 0; i < items; i++) {
    if (i > 0) parts.push(rng.pick(['\n', ' | ', '\n\n']));
    if (rng.chance(0.45)) {
      const [written, secret] = rng.pick(SENSITIVE)(rng);
      parts.push(written);
      secrets.push(secret);
    } else parts.push(rng.pick(NOISE));
  }
  return { text: parts.join(''), secrets };
}

/** Noise bytes that are not (all) valid UTF-8: lone continuation bytes, leads without their rest, 0xFF, NUL. */
function binary(rng: Prng): Buffer {
  return Buffer.from(Array.from({ length: rng.int(1, 8) }, () => rng.pick([0x00, 0x01, 0x1b, 0x7f, 0x80, 0xa0, 0xbf, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xfe, 0xff])));
}

function generateBytes(rng: Prng, items: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < items; i++) {
    if (i > 0) parts.push(Buffer.from(rng.pick(['\n', ' | '])));
    const roll = rng.next();
    if (roll < 0.4) parts.push(Buffer.from(rng.pick(SENSITIVE)(rng)[0]));
    else if (roll < 0.7) parts.push(binary(rng));
    else parts.push(Buffer.from(rng.pick(NOISE)));
  }
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------ running a stream

function randomChunks(rng: Prng, input: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length; ) {
    const size = rng.chance(0.7) ? rng.int(1, 24) : rng.int(25, 3000);
    chunks.push(input.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

function splitAt(input: Buffer, ...points: number[]): Buffer[] {
  return [0, ...points, input.length].slice(1).map((end, i, ends) => input.subarray(i === 0 ? 0 : ends[i - 1]!, end));
}

/** Streams `chunks` (flushing only at the end) and checks the held-bytes bound after every push. */
function stream(m: StreamValueMasker, chunks: readonly Buffer[], options: StreamMaskerOptions = {}): Buffer {
  const s = new StreamMasker(m, options);
  const bound = (options.holdBytes ?? DEFAULT_HOLD_BYTES) + (options.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES);
  const out: Buffer[] = [];
  let largest = 0;
  for (const chunk of chunks) {
    out.push(s.push(chunk));
    largest = Math.max(largest, chunk.length);
    if (s.held > bound + largest) expect(s.held, 'held bytes').toBeLessThanOrEqual(bound + largest);
  }
  out.push(s.flush());
  expect(s.held).toBe(0);
  return Buffer.concat(out);
}

/** The one-shot result the stream must equal, straight from ValueMasker.maskContent. */
function oneShot(m: StreamValueMasker, text: string): Buffer {
  return Buffer.from(m.maskContent(text) ?? text, 'utf8');
}

function expectSame(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  expect(actual.toString('utf8'), what).toBe(expected.toString('utf8'));
  expect(actual.toString('hex'), what).toBe(expected.toString('hex'));
}

// ------------------------------------------------------------------ tests

describe('streamValueMasker', () => {
  it('reads the null strategy as redact (a byte stream has no NULL)', () => {
    const m = masker('null');
    expect(m.rules.contentStrategy).toBe('redact');
    expect(m.maskContent('mail ann@example.com')).toBe('mail [EMAIL]');
  });

  it('keeps the other strategies', () => {
    expect(masker('partial').maskContent('mail ann@example.com')).toBe('mail ***@******e.com');
  });
});

describe('maskWholeOutput', () => {
  it('masks findings and keeps every other byte, valid UTF-8 or not', () => {
    const input = Buffer.concat([Buffer.of(0xff, 0xfe, 0x00), Buffer.from('mail ann@example.com é '), Buffer.of(0xc3, 0x41, 0xe2, 0x82), Buffer.from(' 4111 1111 1111 1111')]);
    const expected = Buffer.concat([Buffer.of(0xff, 0xfe, 0x00), Buffer.from('mail [EMAIL] é '), Buffer.of(0xc3, 0x41, 0xe2, 0x82), Buffer.from(' [CARD]')]);
    expectSame(maskWholeOutput(masker(), input), expected, 'masked');
  });

  it('returns the output itself when nothing is found', () => {
    const input = Buffer.of(0x80, 0x41, 0xff);
    expect(maskWholeOutput(masker(), input)).toBe(input);
  });
});

describe('StreamMasker equals the one-shot masker, whatever the chunking', () => {
  const small = Array.from({ length: 12 }, (_, i) => generate(new Prng(100 + i), 10));

  it('masks every planted value in the one-shot result (so the comparisons below mean something)', () => {
    const m = masker();
    const texts = [...small, ...Array.from({ length: 20 }, (_, i) => generate(new Prng(500 + i), 40))];
    for (const { text, secrets } of texts) {
      const masked = oneShot(m, text).toString('utf8');
      for (const secret of secrets) expect(masked).not.toContain(secret);
    }
    expect(texts.flatMap((t) => t.secrets).length).toBeGreaterThan(200);
  });

  it('split in two at every byte boundary, and in 1-byte chunks', () => {
    const m = masker();
    const options = { holdBytes: 64 };
    let runs = 0;
    for (const { text } of small) {
      const input = Buffer.from(text);
      const expected = oneShot(m, text);
      for (let k = 0; k <= input.length; k++, runs++) expectSame(stream(m, splitAt(input, k), options), expected, `split at ${k} of ${JSON.stringify(text)}`);
      expectSame(stream(m, splitAt(input, ...Array.from({ length: input.length }, (_, i) => i)), options), expected, `1-byte chunks of ${JSON.stringify(text)}`);
    }
    expect(runs).toBeGreaterThan(2000);
  });

  it('split in three around every pair of boundaries of a value', () => {
    const m = masker();
    const text = 'noise noise | aws secret key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY | card 4111 1111 1111 1111\nSSN: 234567890 done';
    const input = Buffer.from(text);
    const expected = oneShot(m, text);
    expect(expected.toString()).toBe('noise noise | aws secret key [SECRET] | card [CARD]\nSSN: [SSN] done');
    for (let a = 0; a <= input.length; a += 3) {
      for (let b = a; b <= input.length; b += 5) expectSame(stream(m, splitAt(input, a, b), { holdBytes: 64 }), expected, `split at ${a}, ${b}`);
    }
  });

  it('at random boundaries, for longer texts, with a small and the default hold', () => {
    const m = masker();
    for (let i = 0; i < 24; i++) {
      const rng = new Prng(1000 + i);
      const { text } = generate(rng, rng.int(50, 400));
      const input = Buffer.from(text);
      const expected = oneShot(m, text);
      for (const options of [{ holdBytes: 64 }, {}, { holdBytes: 200, maxBlockBytes: 4096 }]) {
        expectSame(stream(m, randomChunks(rng, input), options), expected, `seed ${1000 + i} ${JSON.stringify(options)}`);
      }
    }
  });

  it.each(['partial', 'hash', 'null'] as const)('with the %s strategy', (strategy) => {
    const m = masker(strategy);
    for (let i = 0; i < 12; i++) {
      const rng = new Prng(2000 + i);
      const { text } = generate(rng, rng.int(30, 200));
      const input = Buffer.from(text);
      const expected = oneShot(m, text);
      expectSame(stream(m, randomChunks(rng, input), { holdBytes: 64 }), expected, `seed ${2000 + i}`);
      expectSame(stream(m, randomChunks(rng, input)), expected, `seed ${2000 + i}, default hold`);
    }
    if (strategy === 'null') expect(oneShot(m, 'a ann@example.com').toString()).toBe('a [EMAIL]');
    if (strategy === 'hash') expect(oneShot(m, 'a ann@example.com').toString()).toMatch(/^a EMAIL_[0-9a-f]{16}$/);
  });

  it('with bytes that are not UTF-8 and characters split across chunks', () => {
    const m = masker();
    for (let i = 0; i < 16; i++) {
      const rng = new Prng(3000 + i);
      const input = generateBytes(rng, i < 4 ? 12 : rng.int(50, 300));
      const expected = maskWholeOutput(m, input);
      expect(expected.equals(input), `seed ${3000 + i} masks something`).toBe(false);
      if (i < 4) {
        for (let k = 0; k <= input.length; k++) expectSame(stream(m, splitAt(input, k), { holdBytes: 64 }), expected, `seed ${3000 + i} split at ${k}`);
      }
      expectSame(stream(m, randomChunks(rng, input), { holdBytes: 64 }), expected, `seed ${3000 + i}`);
      expectSame(stream(m, randomChunks(rng, input)), expected, `seed ${3000 + i}, default hold`);
    }
  });
});

describe('StreamMasker bytes', () => {
  it('passes multi-byte characters split at any byte through unchanged', () => {
    const m = masker();
    const input = Buffer.from('naïve 日本語 😀 ok\n'.repeat(8));
    for (let k = 0; k <= input.length; k++) expectSame(stream(m, splitAt(input, k), { holdBytes: 64 }), input, `split at ${k}`);
    expectSame(stream(m, [...input].map((b) => Buffer.of(b)), { holdBytes: 64 }), input, '1-byte chunks');
  });

  it.each(['partial', 'hash'] as const)('decodes a character split across chunks inside a value whole (%s)', (strategy) => {
    const m = masker(strategy);
    const text = 'x passwd: mötley😀crüe42 and téléphone 4155552671\n';
    const input = Buffer.from(text);
    const expected = oneShot(m, text);
    expect(expected.toString()).not.toContain('4155552671');
    for (let k = 0; k <= input.length; k++) expectSame(stream(m, splitAt(input, k), { holdBytes: 64 }), expected, `split at ${k}`);
  });

  it('keeps a character whole when a flush falls inside it (its bytes go out as they came)', () => {
    const s = new StreamMasker(masker());
    const emoji = Buffer.from('😀');
    const out = Buffer.concat([s.push(Buffer.concat([Buffer.from('a '), emoji.subarray(0, 2)])), s.flush(), s.push(emoji.subarray(2)), s.flush()]);
    expectSame(out, Buffer.from('a 😀'), 'bytes');
  });

  it('passes binary output through byte for byte', () => {
    const rng = new Prng(7);
    const input = Buffer.from(Array.from({ length: 200_000 }, () => rng.int(0, 255)));
    const expected = maskWholeOutput(masker(), input);
    expectSame(expected, input, 'random bytes hold nothing to mask');
    expectSame(stream(masker(), randomChunks(rng, input)), input, 'streamed');
  });

  it('does not keep a reference to a pushed buffer (callers reuse them)', () => {
    const s = new StreamMasker(masker());
    const chunk = Buffer.from('caf\xc3', 'latin1');
    const first = s.push(chunk);
    chunk.fill(0x41);
    const rest = Buffer.concat([s.push(Buffer.of(0xa9)), s.flush()]);
    expect(Buffer.concat([first, rest]).toString('utf8')).toBe('café');
  });
});

describe('StreamMasker context and cut points', () => {
  it('holds back a value split across pushes and releases it masked', () => {
    const s = new StreamMasker(masker());
    const first = s.push(Buffer.from(`${'x '.repeat(1000)}card 4111 1111`));
    expect(first.length).toBeGreaterThan(0);
    expect(first.toString()).not.toContain('4111');
    expect(s.held).toBeGreaterThanOrEqual(DEFAULT_HOLD_BYTES);
    const rest = Buffer.concat([s.push(Buffer.from(' 1111 1111\nbye')), s.flush()]);
    expect(Buffer.concat([first, rest]).toString()).toBe(`${'x '.repeat(1000)}card [CARD]\nbye`);
  });

  it('never cuts a token longer than the hold (a JWT)', () => {
    const m = masker();
    const rng = new Prng(9);
    const token = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: '1', pad: rng.chars(ALNUM, 3000) })}.${rng.chars(BASE64URL, 43)}`;
    const text = `Authorization: Bearer ${token}\nnext line`;
    const s = new StreamMasker(m);
    const outputs = randomChunks(rng, Buffer.from(text)).map((c) => s.push(c).toString());
    outputs.push(s.flush().toString());
    expect(outputs.join('')).toBe('Authorization: Bearer [SECRET]\nnext line');
    expect(outputs.join('')).not.toContain(token.slice(0, 20));
  });

  it('finds a value whose context word came in an earlier push, even across a flush', () => {
    const s = new StreamMasker(masker());
    const key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const out = [s.push(Buffer.from('the aws secret access')), s.flush(), s.push(Buffer.from(` key is ${key}\n`)), s.flush()];
    expect(Buffer.concat(out).toString()).toBe('the aws secret access key is [SECRET]\n');
    expect(new StreamMasker(masker()).push(Buffer.from(`${'-'.repeat(300)} key is ${key}\n`.repeat(4))).toString()).toContain(key);
  });

  it('does not emit or mask again what it keeps as look-behind', () => {
    const s = new StreamMasker(masker());
    const out = [s.push(Buffer.from('mail ann@example.com\n')), s.flush(), s.push(Buffer.from('ok\n')), s.flush(), s.push(Buffer.from('bob@example.org\n')), s.flush()];
    expect(out.map((b) => b.toString())).toEqual(['', 'mail [EMAIL]\n', '', 'ok\n', '', '[EMAIL]\n']);
  });
});

describe('StreamMasker flush', () => {
  it('releases everything held, masked', () => {
    const s = new StreamMasker(masker());
    const input = Buffer.from('card 4111 1111 1111 1111 and mail ann@example.com é');
    expect(s.push(input.subarray(0, -1)).length).toBe(0);
    expect(s.held).toBe(input.length - 1);
    expect(s.flush().toString('latin1')).toBe('card [CARD] and mail [EMAIL] \xc3');
    expect(s.held).toBe(0);
    expect(s.flush().length).toBe(0);
  });

  it('does not guarantee a value split across a flush is masked (interactive output)', () => {
    // Documents the trade-off: the flush timer bounds latency, so the part of a value
    // released before a pause goes out as it was. What follows is still redacted when the
    // look-behind shows it completes a value.
    const s = new StreamMasker(masker());
    const out = [s.push(Buffer.from('card 4111 1111')), s.flush(), s.push(Buffer.from(' 1111 1111\n')), s.flush()];
    expect(out.map((b) => b.toString())).toEqual(['', 'card 4111 1111', '', '[CARD]\n']);
    const partial = new StreamMasker(masker('partial'));
    const starred = [partial.push(Buffer.from('card 4111 1111')), partial.flush(), partial.push(Buffer.from(' 1111 1111\n')), partial.flush()];
    expect(starred.map((b) => b.toString())).toEqual(['', 'card 4111 1111', '', '[CARD]\n']);
    // The rest of a value longer than the hold is redacted once, when all of it has come.
    const token = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ pad: 'p'.repeat(1500) })}.${'s'.repeat(43)}`;
    const long = new StreamMasker(masker());
    const tail = [long.push(Buffer.from(`Bearer ${token.slice(0, 50)}`)), long.flush(), long.push(Buffer.from(`${token.slice(50)}\n`)), long.flush()];
    expect(tail.map((b) => b.toString())).toEqual(['', `Bearer ${token.slice(0, 50)}`, '', '[SECRET]\n']);
    const other = new StreamMasker(masker());
    const email = [other.push(Buffer.from('mail ann@exam')), other.flush(), other.push(Buffer.from('ple.com\n')), other.flush()];
    expect(Buffer.concat(email).toString()).toBe('mail ann@exam[EMAIL]\n');
  });

  it('ignores empty chunks', () => {
    const m = masker();
    const s = new StreamMasker(m);
    s.push(Buffer.from('mail ann@exa'));
    const held = s.held;
    expect(s.push(Buffer.alloc(0)).length).toBe(0);
    expect(s.held).toBe(held);
    const input = Buffer.from(generate(new Prng(4), 60).text);
    const chunks = randomChunks(new Prng(5), input).flatMap((c) => [Buffer.alloc(0), c, Buffer.alloc(0)]);
    expectSame(stream(m, chunks, { holdBytes: 64 }), oneShot(m, input.toString()), 'with empty chunks');
  });
});

describe('StreamMasker private-key blocks', () => {
  const rng = new Prng(77);
  const keyLines = Array.from({ length: 60 }, () => rng.chars(BASE64, 64)); // ~3.9 KB, far past the hold
  const block = ['-----BEGIN RSA PRIVATE KEY-----', ...keyLines, '-----END RSA PRIVATE KEY-----'].join('\n');

  it('holds a block longer than the hold from its BEGIN line until its END line, then redacts it whole', () => {
    const s = new StreamMasker(masker());
    const input = Buffer.from(`${'before '.repeat(200)}\n${block}\nafter ann@example.com ${'tail '.repeat(200)}`);
    const endAt = input.indexOf('-----END');
    const beforeEnd = randomChunks(new Prng(1), input.subarray(0, endAt)).map((c) => s.push(c));
    const released = Buffer.concat(beforeEnd).toString();
    expect(released.startsWith('before ')).toBe(true);
    expect(released).not.toContain('BEGIN');
    expect(s.held).toBeGreaterThan(block.length - 40);
    const out = Buffer.concat([...beforeEnd, s.push(input.subarray(endAt)), s.flush()]).toString();
    expect(out).toBe(`${'before '.repeat(200)}\n[SECRET]\nafter [EMAIL] ${'tail '.repeat(200)}`);
  });

  it('releases a complete block at once, without waiting for more output or a flush', () => {
    const s = new StreamMasker(masker());
    expect(s.push(Buffer.from(`$ cat id_rsa\n${block}\n$ `)).toString()).toBe('$ cat id_rsa\n[SECRET]');
    expect(s.held).toBe(3);
  });

  it('fails closed past maxBlockBytes: redacts the block and drops everything up to its END line', () => {
    const options = { holdBytes: 64, maxBlockBytes: 1024 };
    const input = Buffer.from(`start\n${block}\nafter ann@example.com\n${'x'.repeat(100)}`);
    for (const seed of [1, 2, 3]) {
      const out = stream(masker(), randomChunks(new Prng(seed), input), options).toString();
      expect(out).toBe(`start\n[SECRET]\nafter [EMAIL]\n${'x'.repeat(100)}`);
    }
    const out = stream(masker(), [...input].map((b) => Buffer.of(b)), options).toString();
    expect(out).toBe(`start\n[SECRET]\nafter [EMAIL]\n${'x'.repeat(100)}`);
  });

  it('redacts an open block when flushed, and keeps dropping it until its END line', () => {
    const s = new StreamMasker(masker());
    const half = block.indexOf(keyLines[30]!);
    const out = [s.push(Buffer.from(`user@host$ cat id_rsa\n${block.slice(0, half)}`)), s.flush()];
    expect(Buffer.concat(out).toString()).toBe('user@host$ cat id_rsa\n[SECRET]');
    expect(s.held).toBe(0);
    const rest = [s.push(Buffer.from(block.slice(half))), s.flush(), s.push(Buffer.from('\nuser@host$ ')), s.flush()];
    expect(Buffer.concat(rest).toString()).toBe('\nuser@host$ ');
  });

  it('redacts a block never closed when the stream ends (stricter than the one-shot masker)', () => {
    const s = new StreamMasker(masker());
    const open = `ok\n${block.slice(0, 500)}`;
    expect(Buffer.concat([s.push(Buffer.from(open)), s.flush()]).toString()).toBe('ok\n[SECRET]');
    expect(masker().maskContent(open)).toBeUndefined();
  });

  it('holds no block when the policy has no private-key detector', () => {
    const m = streamValueMasker({ detectors: [emailDetector], contentStrategy: 'redact', hashKey: undefined });
    const s = new StreamMasker(m, { holdBytes: 64 });
    const out = s.push(Buffer.from(`${block.slice(0, 2000)}`));
    expect(out.length).toBeGreaterThan(1500);
    expect(s.held).toBeLessThanOrEqual(2 * 64);
  });
});

describe('StreamMasker bounds', () => {
  it('keeps held bytes within holdBytes + maxBlockBytes + a chunk for a word that never ends', () => {
    const rng = new Prng(11);
    const input = Buffer.from(rng.chars(BASE64, 300_000));
    const options = { maxBlockBytes: 16 * 1024 };
    const s = new StreamMasker(masker(), options);
    const out: Buffer[] = [];
    let maxHeld = 0;
    for (const chunk of splitAt(input, ...Array.from({ length: 73 }, (_, i) => (i + 1) * 4096))) {
      out.push(s.push(chunk));
      maxHeld = Math.max(maxHeld, s.held);
    }
    out.push(s.flush());
    expect(maxHeld).toBeLessThanOrEqual(DEFAULT_HOLD_BYTES + 16 * 1024 + 4096);
    expect(maxHeld).toBeGreaterThan(DEFAULT_HOLD_BYTES);
    expectSame(Buffer.concat(out), input, 'nothing to mask');
  });

  it('streams a few MB of mixed output in 16 KiB chunks, equal to the one-shot result', () => {
    const m = masker();
    const rng = new Prng(12345);
    const parts: string[] = [];
    let size = 0;
    while (size < 3 * 1024 * 1024) {
      const { text } = generate(rng, 200);
      parts.push(text);
      size += text.length;
    }
    const text = parts.join('\n');
    const input = Buffer.from(text);
    const chunks = splitAt(input, ...Array.from({ length: Math.floor(input.length / 16384) }, (_, i) => (i + 1) * 16384));
    expectSame(stream(m, chunks), oneShot(m, text), 'a few MB');
  });
});

describe('StreamMasker options', () => {
  it('refuses sizes out of range', () => {
    expect(() => new StreamMasker(masker(), { holdBytes: 10 })).toThrow(StreamMaskerOptionsError);
    expect(() => new StreamMasker(masker(), { holdBytes: 1.5e3 + 0.5 })).toThrow(StreamMaskerOptionsError);
    expect(() => new StreamMasker(masker(), { maxBlockBytes: -1 })).toThrow(StreamMaskerOptionsError);
    expect(() => new StreamMasker(masker(), { holdBytes: 64, maxBlockBytes: 0 })).not.toThrow();
  });
});
