import { describe, expect, it } from 'vitest';
import { SIZE_PATTERN, SizeError, formatSize, parseSize } from '../../../src/config/size.js';

describe('parseSize', () => {
  it.each([
    ['64KiB', 65_536],
    ['1MiB', 1_048_576],
    ['1GiB', 1_073_741_824],
    ['16 MiB', 16_777_216],
    ['512B', 512],
    ['1.5KiB', 1_536],
    ['1024', 1_024],
    [8192, 8_192],
  ] as const)('%j → %d bytes', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  it.each([
    ['1MB', /unknown unit "MB".*KiB/],
    ['1kb', /unknown unit "kb"/],
    ['-1KiB', /negative/],
    ['1.3B', /whole number/],
    ['lots', /expected e\.g\./],
    [1.5, /whole number/],
    [-1, /negative/],
  ] as const)('rejects %j', (input, reason) => {
    expect(() => parseSize(input)).toThrow(SizeError);
    expect(() => parseSize(input)).toThrow(reason);
  });

  it('schema pattern matches the parser grammar', () => {
    const pattern = new RegExp(SIZE_PATTERN, 'u');
    for (const ok of ['64KiB', '1 MiB', '1024', '512B']) expect(pattern.test(ok), ok).toBe(true);
    for (const bad of ['1MB', '-1KiB', 'lots', '']) expect(pattern.test(bad), bad).toBe(false);
  });
});

describe('formatSize', () => {
  it.each([
    [16_777_216, '16MiB'],
    [8_192, '8KiB'],
    [1_073_741_824, '1GiB'],
    [1_000, '1000B'],
    [1_536, '1536B'],
  ])('%d → %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
    expect(parseSize(text)).toBe(bytes);
  });
});
