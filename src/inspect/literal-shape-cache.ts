/**
 * A bounded cache of results computed from SQL text, where statements that differ only in
 * numeric literal values share one entry (`… WHERE aid = 4711` and `… = 815`: what
 * simple-protocol clients send), so the hot path parses a statement shape once.
 *
 * Sharing is sound only for a result no literal's value decided. The computation runs under
 * `readingNumericLiterals`: a result that read a numeric literal (`EXPLAIN (ANALYZE 1)`,
 * `ORDER BY 2`, `COPY … (HEADER 1)`) serves only the exact text it was computed from.
 */
import { BoundedCache } from './bounded-cache.js';
import { numericLiteralKey } from './sql/numeric-literal-key.js';
import { readingNumericLiterals } from './sql/parser.js';

interface Entry<V> {
  readonly value: V;
  /** The text the value was computed from. */
  readonly from: string;
  /** False when a numeric literal's value decided the value: it then serves `from` only. */
  readonly shared: boolean;
}

/**
 * The shape key of the text asked about last. A statement is looked up in the inspector's
 * cache and in its session's masking-plan cache, then stored on a miss: one lexing pass
 * serves all of them (the same string object, so the comparison is a pointer check).
 */
let lastText: string | undefined;
let lastKey = '';

function shapeKey(text: string): string {
  if (text !== lastText) {
    lastKey = numericLiteralKey(text) ?? text;
    lastText = text;
  }
  return lastKey;
}

export interface ShapeHit<V> {
  readonly value: V;
  /** The text the value was computed from (equal to the text asked for, or of the same shape). */
  readonly from: string;
}

export class LiteralShapeCache<V> {
  private readonly cache: BoundedCache<string, Entry<V>>;

  /** Texts longer than `maxTextLength` are computed every time (a key costs a pass over the text). */
  constructor(entries: number, private readonly maxTextLength = Number.POSITIVE_INFINITY) {
    this.cache = new BoundedCache(entries);
  }

  get(text: string): ShapeHit<V> | undefined {
    if (text.length > this.maxTextLength) return undefined;
    const entry = this.cache.get(shapeKey(text));
    if (entry === undefined || (!entry.shared && entry.from !== text)) return undefined;
    return entry;
  }

  /**
   * Computes the value for `text` and caches it. `shareable` may refuse sharing for reasons of
   * the caller's own (a value that quotes the text and cannot be re-cut).
   */
  compute(text: string, compute: (text: string) => V, shareable: (value: V) => boolean = () => true): V {
    const { result, readLiteral } = readingNumericLiterals(() => compute(text));
    if (text.length <= this.maxTextLength) {
      this.cache.set(shapeKey(text), { value: result, from: text, shared: !readLiteral && shareable(result) });
    }
    return result;
  }
}
