import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../../src/inspect/bounded-cache.js';

describe('BoundedCache', () => {
  it('evicts the least recently used entry at the limit', () => {
    const c = new BoundedCache<string, number>(2);
    c.set('a', 1);
    c.set('b', 2);
    expect(c.get('a')).toBe(1); // a is now most recent
    c.set('c', 3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBe(1);
    expect(c.get('c')).toBe(3);
    expect(c.size).toBe(2);
  });

  it('overwrites without growing', () => {
    const c = new BoundedCache<string, number>(2);
    c.set('a', 1);
    c.set('a', 2);
    expect(c.size).toBe(1);
    expect(c.get('a')).toBe(2);
  });

  it('refuses a zero limit', () => {
    expect(() => new BoundedCache(0)).toThrow(RangeError);
  });
});
