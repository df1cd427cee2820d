/**
 * The SQL inspector the live gateway uses: the real parser, the configured dangerous-
 * function table, and a bounded cache so hot and repeated statements are parsed once
 * (parsing costs 20–700 µs; a hit costs a map lookup). Statements that differ only in
 * numeric literal values share an entry unless a literal's value decided the facts (see
 * literal-shape-cache.ts); the statement texts in a shared entry are re-cut from the text
 * actually sent, so refusals quote it exactly.
 */
import type { DangerousFunctionConfig } from '../config/types.js';
import { LiteralShapeCache } from './literal-shape-cache.js';
import type { SqlInspection, StatementFacts } from './sql/facts.js';
import { inspectSql, loadSqlParser, withExtraDangerousFunctions } from './sql/index.js';

export type SqlInspector = (text: string) => SqlInspection;

interface CacheEntry {
  readonly inspection: SqlInspection;
  /** [start, end) of each statement's text within the inspected text, when shareable. */
  readonly spans: ReadonlyArray<readonly [number, number]> | undefined;
}

/** Statement texts above this length are inspected every time rather than cached. */
const MAX_CACHED_TEXT = 16 * 1024;

export async function createSqlInspector(
  extraDangerousFunctions: readonly DangerousFunctionConfig[],
  cacheEntries = 10_000,
): Promise<SqlInspector> {
  await loadSqlParser();
  const dangerousFunctions = withExtraDangerousFunctions(extraDangerousFunctions);
  const cache = new LiteralShapeCache<CacheEntry>(cacheEntries, MAX_CACHED_TEXT);
  const inspect = (text: string): CacheEntry => {
    const inspection = inspectSql(text, { dangerousFunctions });
    return { inspection, spans: inspection.ok ? spansOf(inspection.statements, text) : undefined };
  };
  // Only an entry whose statement texts can be re-cut may serve other literal values.
  const recuttable = (entry: CacheEntry): boolean => entry.spans !== undefined;
  return (text) => {
    const hit = cache.get(text);
    if (hit === undefined) return cache.compute(text, inspect, recuttable).inspection;
    const { inspection, spans } = hit.value;
    if (hit.from === text || spans === undefined || !inspection.ok) return inspection;
    return { ok: true, statements: recut(inspection.statements, spans, text) };
  };
}

function spansOf(statements: readonly StatementFacts[], text: string): Array<readonly [number, number]> | undefined {
  const spans: Array<readonly [number, number]> = [];
  let from = 0;
  for (const s of statements) {
    const at = text.indexOf(s.text, from);
    if (at < 0) return undefined;
    spans.push([at, at + s.text.length]);
    from = at + s.text.length;
  }
  return spans;
}

function recut(
  statements: readonly StatementFacts[],
  spans: ReadonlyArray<readonly [number, number]>,
  text: string,
): StatementFacts[] {
  return statements.map((s, i) => ({ ...s, text: text.slice(spans[i]![0], spans[i]![1]) }));
}
