import { describe, expect, it } from 'vitest';
import {
  decodeHandle,
  encodeHandle,
  OPEN_FLAG,
  openAction,
  parsePathPair,
  resolveAgentPath,
  resolveLinkTarget,
  SftpPathError,
} from '../../../src/protocols/ssh/sftp-paths.js';

const HOME = '/home/agent';

describe('resolveAgentPath', () => {
  it.each([
    ['notes.txt', '/home/agent/notes.txt'],
    ['', '/home/agent'],
    ['.', '/home/agent'],
    ['./a/./b', '/home/agent/a/b'],
    ['a//b///c', '/home/agent/a/b/c'],
    ['dir/', '/home/agent/dir'],
    ['/var/log/', '/var/log'],
    ['/', '/'],
    ['//', '/'],
    ['//etc/passwd', '/etc/passwd'],
  ])('%j resolves to %j', (requested, expected) => {
    expect(resolveAgentPath(HOME, requested)).toBe(expected);
  });

  it.each([
    ['../../etc/shadow', '/etc/shadow'],
    ['/var/log/../../etc/shadow', '/etc/shadow'],
    ['readable/../secret', '/home/agent/secret'],
    ['../../../../../../../../etc/passwd', '/etc/passwd'],
    ['/..', '/'],
    ['a/b/../../../x', '/home/x'],
    ['readable/..', '/home/agent'],
  ])('resolves traversal %j lexically to %j', (requested, expected) => {
    expect(resolveAgentPath(HOME, requested)).toBe(expected);
  });

  it('never depends on the gateway process\'s own working directory', () => {
    expect(resolveAgentPath('home/agent', 'x')).toBe('/home/agent/x');
    expect(resolveAgentPath('/', 'x')).toBe('/x');
  });

  it('refuses a NUL byte, which would cut the path short on the target', () => {
    expect(() => resolveAgentPath(HOME, 'readable/ok\0/../../etc/shadow')).toThrow(SftpPathError);
    expect(() => resolveAgentPath(HOME, '\0')).toThrow(/NUL/);
  });
});

describe('resolveLinkTarget', () => {
  it('resolves a relative target from the link\'s directory', () => {
    expect(resolveLinkTarget('/srv/w/link', 'file')).toBe('/srv/w/file');
    expect(resolveLinkTarget('/srv/w/link', '../../etc/shadow')).toBe('/etc/shadow');
    expect(resolveLinkTarget('/srv/w/link', '/etc/hosts')).toBe('/etc/hosts');
  });
});

describe('openAction', () => {
  it('is read only for flags that cannot change the file', () => {
    expect(openAction(OPEN_FLAG.READ)).toBe('read');
    expect(openAction(0)).toBe('read');
    expect(openAction(OPEN_FLAG.READ | OPEN_FLAG.EXCL)).toBe('read');
  });

  it.each([
    ['WRITE', OPEN_FLAG.WRITE],
    ['APPEND', OPEN_FLAG.APPEND],
    ['CREAT', OPEN_FLAG.CREAT],
    ['TRUNC', OPEN_FLAG.TRUNC],
    ['READ|WRITE', OPEN_FLAG.READ | OPEN_FLAG.WRITE],
    ['READ|TRUNC', OPEN_FLAG.READ | OPEN_FLAG.TRUNC],
  ])('is write with %s', (_name, flags) => {
    expect(openAction(flags)).toBe('write');
  });
});

describe('handles', () => {
  it('round-trips 4-byte counters', () => {
    for (const id of [0, 1, 255, 65_536, 2 ** 32 - 1]) {
      const handle = encodeHandle(id);
      expect(handle).toHaveLength(4);
      expect(decodeHandle(handle)).toBe(id);
    }
    expect(encodeHandle(258)).toEqual(Buffer.from([0, 0, 1, 2]));
  });

  it('does not decode handles of another shape (a target handle, garbage)', () => {
    expect(decodeHandle(Buffer.alloc(0))).toBeUndefined();
    expect(decodeHandle(Buffer.from([0, 0, 1]))).toBeUndefined();
    expect(decodeHandle(Buffer.from([0, 0, 0, 1, 0]))).toBeUndefined();
  });
});

describe('parsePathPair', () => {
  const str = (s: string): Buffer => {
    const bytes = Buffer.from(s, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length, 0);
    return Buffer.concat([length, bytes]);
  };

  it('reads two SSH strings', () => {
    expect(parsePathPair(Buffer.concat([str('a/old'), str('/b/né')]))).toEqual({ from: 'a/old', to: '/b/né' });
    expect(parsePathPair(Buffer.concat([str(''), str('')]))).toEqual({ from: '', to: '' });
  });

  it('refuses anything else', () => {
    expect(parsePathPair(undefined)).toBeUndefined();
    expect(parsePathPair(str('only-one'))).toBeUndefined();
    expect(parsePathPair(Buffer.concat([str('a'), str('b'), Buffer.from([0])]))).toBeUndefined();
    expect(parsePathPair(Buffer.from([0, 0, 0, 9, 65]))).toBeUndefined();
    expect(parsePathPair(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
    const full = Buffer.concat([str('abc'), str('def')]);
    for (let cut = 0; cut < full.length; cut++) expect(parsePathPair(full.subarray(0, cut))).toBeUndefined();
  });
});
