/**
 * The SQL inspector the live gateway uses: the real parser, the configured dangerous-
 * function table, and a bounded per-text cache so hot and repeated statements are parsed
 * once (parsing costs ~100 µs; a cache hit costs a map lookup).
 */
import type { DangerousFunctionConfig } from '../config/types.js';
import { BoundedCache } from './bounded-cache.js';
import type { SqlInspection } from './sql/facts.js';
import { inspectSql, loadSqlParser, withExtraDangerousFunctions } from './sql/index.js';

export type SqlInspector = (text: string) => SqlInspection;

/** Statement texts above this length are inspected every time rather than cached. */
const MAX_CACHED_TEXT = 16 * 1024;

export async function createSqlInspector(
  extraDangerousFunctions: readonly DangerousFunctionConfig[],
  cacheEntries = 10_000,
): Promise<SqlInspector> {
  await loadSqlParser();
  const dangerousFunctions = withExtraDangerousFunctions(extraDangerousFunctions);
  const cache = new BoundedCache<string, SqlInspection>(cacheEntries);
  return (text) => {
    const cached = cache.get(text);
    if (cached) return cached;
    const inspection = inspectSql(text, { dangerousFunctions });
    if (text.length <= MAX_CACHED_TEXT) cache.set(text, inspection);
    return inspection;
  };
}
