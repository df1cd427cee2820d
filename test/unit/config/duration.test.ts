import { describe, expect, it } from 'vitest';
import { DURATION_PATTERN, DurationError, formatDuration, parseDuration } from '../../../src/config/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['60s', 60_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
    ['0s', 0],
    ['90', 90_000],
    [60, 60_000],
    [0.25, 250],
  ] as const)('%j → %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    ['', /empty/],
    ['5x', /unknown unit "x"/],
    ['5M', /unknown unit "M"/],
    ['-5s', /negative/],
    ['5 s', /number 5 has no unit/],
    ['s', /unexpected "s"/],
    [-1, /negative/],
    [Number.POSITIVE_INFINITY, /finite/],
  ] as const)('rejects %j', (input, reason) => {
    const error = (() => {
      try {
        parseDuration(input);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(DurationError);
    expect((error as DurationError).input).toBe(input);
    expect((error as DurationError).message).toMatch(reason);
  });

  it('schema pattern accepts exactly what the parser accepts (string forms)', () => {
    const pattern = new RegExp(DURATION_PATTERN, 'u');
    for (const ok of ['500ms', '60s', '1h30m', '90', '1.5s']) expect(pattern.test(ok), ok).toBe(true);
    for (const bad of ['', '5x', '-5s', '5 s', 's', '1h 30m']) expect(pattern.test(bad), bad).toBe(false);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [86_400_000, '1d'],
    [1_500, '1s500ms'],
  ])('%d → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});
