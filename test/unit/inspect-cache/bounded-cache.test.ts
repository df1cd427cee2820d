import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../../src/inspect/bounded-cache.js';

describe('BoundedCache', () => {
  it('never holds more than its limit', () => {
    const c = new BoundedCache<number, number>(10);
    for (let i = 0; i < 1000; i++) {
      c.set(i, i);
      expect(c.size).toBeLessThanOrEqual(10);
    }
    expect(c.get(999)).toBe(999);
    expect(c.get(0)).toBeUndefined();
  });

  it('keeps an entry that is used while others churn', () => {
    const c = new BoundedCache<string, number>(4);
    c.set('hot', 1);
    for (let i = 0; i < 100; i++) {
      c.set(`cold-${i}`, i);
      expect(c.get('hot')).toBe(1);
    }
  });

  it('drops entries not used for two generations', () => {
    const c = new BoundedCache<string, number>(4);
    c.set('a', 1);
    for (let i = 0; i < 4; i++) c.set(`x${i}`, i);
    expect(c.get('a')).toBeUndefined();
  });

  it('refuses a limit below 2', () => {
    expect(() => new BoundedCache(1)).toThrow(RangeError);
  });
});
