/**
 * A bounded cache with two generations: entries live in `young` until it holds half the
 * limit, then `young` becomes `old` and the previous `old` is dropped wholesale. A hit in
 * `old` is promoted. Every operation is O(1) — no per-entry eviction bookkeeping, which
 * for a full LRU Map costs more than the parse it saves. Hot entries survive; at most
 * `limit` entries are held.
 */
export class BoundedCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generationSize: number;

  constructor(limit: number) {
    if (limit < 2) throw new RangeError('cache limit must be at least 2');
    this.generationSize = Math.floor(limit / 2);
  }

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const aged = this.old.get(key);
    if (aged !== undefined) this.set(key, aged);
    return aged;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.generationSize) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
