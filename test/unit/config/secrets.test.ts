import { describe, expect, it } from 'vitest';
import {
  describeSecret,
  resolveReferences,
  resolveTree,
  secretsUnder,
  type SecretContext,
} from '../../../src/config/secrets.js';

function context(env: Record<string, string>, files: Record<string, string> = {}): SecretContext & { reads: string[] } {
  const reads: string[] = [];
  return {
    env,
    baseDir: '/etc/portcullis',
    reads,
    readFile(path) {
      reads.push(path);
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
  };
}

describe('resolveReferences', () => {
  it('resolves whole and embedded env references', () => {
    const ctx = context({ USER: 'alice', PW: 's3cret' });
    expect(resolveReferences('${env:PW}', ctx)).toEqual({ ok: true, value: 's3cret', sources: [{ kind: 'env', ref: 'PW' }] });
    expect(resolveReferences('postgres://${env:USER}:${env:PW}@db', ctx)).toEqual({
      ok: true,
      value: 'postgres://alice:s3cret@db',
      sources: [
        { kind: 'env', ref: 'USER' },
        { kind: 'env', ref: 'PW' },
      ],
    });
  });

  it('reads file references relative to the base dir, dropping one trailing newline', () => {
    const ctx = context({}, { '/etc/portcullis/pw': 'hunter2\n', '/abs/two': 'x\n\n', '/etc/portcullis/crlf': 'y\r\n' });
    expect(resolveReferences('${file:./pw}', ctx)).toMatchObject({ ok: true, value: 'hunter2' });
    expect(resolveReferences('${file:/abs/two}', ctx)).toMatchObject({ ok: true, value: 'x\n' });
    expect(resolveReferences('${file:crlf}', ctx)).toMatchObject({ ok: true, value: 'y' });
    expect(ctx.reads).toEqual(['/etc/portcullis/pw', '/abs/two', '/etc/portcullis/crlf']);
  });

  it('treats $${ as a literal ${ and leaves other dollars alone', () => {
    const ctx = context({ A: 'a' });
    expect(resolveReferences('$${env:A} costs $5 ${env:A}$', ctx)).toEqual({
      ok: true,
      value: '${env:A} costs $5 a$',
      sources: [{ kind: 'env', ref: 'A' }],
    });
  });

  it('names the reference, never a value, when it cannot resolve', () => {
    const ctx = context({ SET: 'visible-secret' });
    const missing = resolveReferences('${env:SET}-${env:MISSING}', ctx);
    expect(missing).toEqual({ ok: false, message: 'environment variable MISSING is not set (referenced as ${env:MISSING})' });
    expect(JSON.stringify(missing)).not.toContain('visible-secret');
    expect(resolveReferences('${env:EMPTY}', context({ EMPTY: '' }))).toMatchObject({ ok: false, message: expect.stringMatching(/EMPTY is set but empty/) });
    expect(resolveReferences('${file:blank}', context({}, { '/etc/portcullis/blank': '\n' }))).toEqual({
      ok: false,
      message: 'secret file "blank" (/etc/portcullis/blank) is empty',
    });
    expect(resolveReferences('${file:nope}', ctx)).toEqual({
      ok: false,
      message: 'cannot read secret file "nope" (/etc/portcullis/nope): file not found',
    });
  });

  it.each([
    ['${env:A', /unterminated reference/],
    ['${vault:x}', /unknown reference "\$\{vault:x\}"/],
    ['${A}', /unknown reference/],
    ['${env:1BAD}', /invalid environment variable name/],
    ['${file:}', /empty path/],
  ])('rejects %s', (text, message) => {
    const result = resolveReferences(text, context({ A: 'a' }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('resolveTree', () => {
  it('resolves every string, keeps the shape, and records which paths held secrets', () => {
    const ctx = context({ PW: 'pw', HOST: 'db' }, { '/etc/portcullis/key': 'k' });
    const tree = { a: { b: ['x', '${env:PW}', 3] }, c: 'h-${env:HOST}', d: '${file:key}', e: true, f: null };
    const result = resolveTree(tree, ctx);
    expect(result.issues).toEqual([]);
    expect(result.value).toEqual({ a: { b: ['x', 'pw', 3] }, c: 'h-db', d: 'k', e: true, f: null });
    expect([...result.secrets.keys()]).toEqual(['a.b[1]', 'c', 'd']);
    expect(secretsUnder(result.secrets, 'a')).toEqual([{ kind: 'env', ref: 'PW' }]);
    expect(secretsUnder(result.secrets, 'a.b[0]')).toEqual([]);
    expect(describeSecret(secretsUnder(result.secrets, 'd'))).toBe('<secret from file:key>');
  });

  it('reports failures with their path', () => {
    const result = resolveTree({ list: [{ password: '${env:NOPE}' }] }, context({}));
    expect(result.issues).toEqual([{ path: ['list', 0, 'password'], message: expect.stringContaining('NOPE is not set') }]);
  });
});

describe('placeholder mode (policy check)', () => {
  it('turns unavailable secrets into placeholders, and still refuses malformed references', () => {
    const ctx = { ...context({ EMPTY: '' }), unavailable: 'placeholder' as const };
    expect(resolveReferences('pw=${env:NOPE}/${env:EMPTY}/${file:gone}', ctx)).toEqual({
      ok: true,
      value: 'pw=<unresolved env:NOPE>/<unresolved env:EMPTY>/<unresolved file:gone>',
      sources: [
        { kind: 'env', ref: 'NOPE' },
        { kind: 'env', ref: 'EMPTY' },
        { kind: 'file', ref: 'gone' },
      ],
      placeholder: true,
    });
    expect(resolveReferences('${vault:x}', ctx)).toMatchObject({ ok: false, message: expect.stringContaining('unknown reference') });
    expect(resolveReferences('${env:bad-name}', ctx)).toMatchObject({ ok: false });
    const tree = resolveTree({ a: '${env:NOPE}', b: 'plain' }, ctx);
    expect(tree.issues).toEqual([]);
    expect([...tree.placeholders]).toEqual(['a']);
  });
});
