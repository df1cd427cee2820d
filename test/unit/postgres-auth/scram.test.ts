import { describe, expect, it } from 'vitest';
import {
  createScramClient,
  md5Password,
  md5PasswordHash,
  saslprep,
  ScramError,
} from '../../../src/protocols/postgres/scram.js';

// RFC 7677 §3 example exchange.
const CLIENT_NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL =
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

function rfcClient() {
  const client = createScramClient('pencil', CLIENT_NONCE, { username: 'user' });
  client.clientFirstMessage();
  return client;
}

describe('SCRAM-SHA-256 client', () => {
  it('reproduces the RFC 7677 test vector', () => {
    const client = createScramClient('pencil', CLIENT_NONCE, { username: 'user' });
    expect(client.clientFirstMessage()).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    expect(client.handleServerFirst(SERVER_FIRST)).toBe(CLIENT_FINAL);
    expect(client.isVerified()).toBe(false);
    expect(() => client.verifyServerFinal(SERVER_FINAL)).not.toThrow();
    expect(client.isVerified()).toBe(true);
  });

  it('sends n=* by default (PostgreSQL takes the user from the StartupMessage)', () => {
    expect(createScramClient('pencil', CLIENT_NONCE).clientFirstMessage()).toBe(`n,,n=*,r=${CLIENT_NONCE}`);
  });

  it('escapes , and = in the username', () => {
    expect(createScramClient('x', 'abc', { username: 'a,b=c' }).clientFirstMessage()).toBe('n,,n=a=2Cb=3Dc,r=abc');
  });

  it('generates a fresh printable nonce per client', () => {
    const a = createScramClient('pw').clientFirstMessage();
    const b = createScramClient('pw').clientFirstMessage();
    expect(a).toMatch(/^n,,n=\*,r=[\x21-\x2b\x2d-\x7e]{20,}$/);
    expect(a).not.toBe(b);
  });

  it('refuses a forged server signature', () => {
    const client = rfcClient();
    client.handleServerFirst(SERVER_FIRST);
    const forged = 'v=' + Buffer.alloc(32, 7).toString('base64');
    expect(() => client.verifyServerFinal(forged)).toThrow(ScramError);
    expect(client.isVerified()).toBe(false);
  });

  it('refuses a server-final with a truncated signature, garbage or a server error', () => {
    for (const final of ['v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5n', 'v=not base64!', '', 'x=1']) {
      const client = rfcClient();
      client.handleServerFirst(SERVER_FIRST);
      expect(() => client.verifyServerFinal(final), final).toThrow(ScramError);
    }
    const client = rfcClient();
    client.handleServerFirst(SERVER_FIRST);
    expect(() => client.verifyServerFinal('e=invalid-proof')).toThrow(/invalid-proof/);
  });

  it('refuses a server nonce that does not extend the client nonce', () => {
    expect(() => rfcClient().handleServerFirst(SERVER_FIRST.replace('r=rOpr', 'r=XOpr'))).toThrow(/nonce/);
    // The server must contribute its own part: echoing our nonce alone is not enough.
    expect(() => rfcClient().handleServerFirst(`r=${CLIENT_NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`)).toThrow(/nonce/);
  });

  it.each([
    ['i=0', 'r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0'],
    ['i=-1', 'r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1'],
    ['i too large', 'r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001'],
    ['i not a number', 'r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x'],
    ['empty salt', 'r=rOprNGfwEbeRWgbNEkqOxyz,s=,i=4096'],
    ['bad salt', 'r=rOprNGfwEbeRWgbNEkqOxyz,s=***,i=4096'],
    ['missing salt', 'r=rOprNGfwEbeRWgbNEkqOxyz,i=4096'],
    ['mandatory extension', 'm=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'],
    ['empty', ''],
  ])('refuses a malformed server-first (%s)', (_name, serverFirst) => {
    expect(() => rfcClient().handleServerFirst(serverFirst)).toThrow(ScramError);
  });

  it('enforces message order', () => {
    const client = createScramClient('pencil', CLIENT_NONCE);
    expect(() => client.handleServerFirst(SERVER_FIRST)).toThrow(ScramError);
    expect(() => client.verifyServerFinal(SERVER_FINAL)).toThrow(ScramError);
    client.clientFirstMessage();
    expect(() => client.clientFirstMessage()).toThrow(ScramError);

    const done = rfcClient();
    done.handleServerFirst(SERVER_FIRST);
    done.verifyServerFinal(SERVER_FINAL);
    expect(() => done.verifyServerFinal(SERVER_FINAL)).toThrow(ScramError);
  });

  it('refuses an unusable client nonce', () => {
    expect(() => createScramClient('pw', 'has,comma')).toThrow(ScramError);
    expect(() => createScramClient('pw', '')).toThrow(ScramError);
  });
});

describe('saslprep', () => {
  it('leaves ASCII alone, control characters included (PostgreSQL fast path)', () => {
    expect(saslprep('pencil')).toBe('pencil');
    expect(saslprep('tab\there\x7f')).toBe('tab\there\x7f');
  });

  it('maps spaces, drops mapped-to-nothing code points and applies NFKC', () => {
    expect(saslprep('ｐａｓｓ\u00a0word')).toBe('pass word');
    expect(saslprep('I\u00adX')).toBe('IX');
    expect(saslprep('\u2168')).toBe('IX'); // ROMAN NUMERAL NINE
    expect(saslprep('e\u0301')).toBe('\u00e9');
  });

  it('falls back to the raw password when the result is prohibited or empty, like PostgreSQL', () => {
    expect(saslprep('pw\ue000é')).toBe('pw\ue000é'); // private use
    expect(saslprep('\u00ad')).toBe('\u00ad');
  });
});

describe('md5', () => {
  // Computed independently with: printf 'pencilpostgres' | md5sum, then
  // { printf '%s' "$inner"; printf '\x01\x02\x03\x04'; } | md5sum
  it('computes the stored hash and the salted response', () => {
    expect(md5PasswordHash('postgres', 'pencil')).toBe('md54c21b325d75177d5e9b9789a50ab0c9c');
    expect(md5Password('postgres', 'pencil', Buffer.from([1, 2, 3, 4]))).toBe('md5dba33b405438ce4ca5423846a9bffead');
  });

  it('refuses a salt that is not 4 bytes', () => {
    expect(() => md5Password('u', 'p', Buffer.alloc(3))).toThrow(RangeError);
  });
});
