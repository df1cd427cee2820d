/**
 * A typed, thin wrapper around `libpg-query` (the real PostgreSQL parser, compiled to
 * WASM) plus small helpers for walking its JSON parse trees without `any`.
 *
 * The WASM module must be loaded once with `loadSqlParser()` (async); every other
 * function here is synchronous and pure.
 *
 * Shape of the JSON (libpg_query's own output, not protobuf JSON):
 * - A `Node *` field holds a *wrapped* node: `{ "SelectStmt": { …fields } }` — one key,
 *   the node type, always PascalCase.
 * - A field typed as a specific struct (`RangeVar *relation`, `WithClause *withClause`,
 *   `SelectStmt *larg`…) holds the *bare* fields, without the wrapper.
 * - Default values are omitted: `false`, `0`, NULL strings and empty lists are absent
 *   (so `{"Integer": {}}` is 0 and a missing `is_from` is false). Enums are always present.
 */
import { loadModule, parsePlPgSQLSync, parseSync, scanSync } from 'libpg-query';

// ---------------------------------------------------------------------------------------
// Loading

let loading: Promise<void> | undefined;
let loaded = false;

/** Loads the WASM parser. Idempotent; concurrent callers share one load. */
export function loadSqlParser(): Promise<void> {
  if (loading === undefined) {
    loading = loadModule().then(
      () => {
        loaded = true;
      },
      (error: unknown) => {
        loading = undefined; // allow a retry after a failed load
        throw error;
      },
    );
  }
  return loading;
}

export function isSqlParserLoaded(): boolean {
  return loaded;
}

function assertLoaded(): void {
  if (!loaded) throw new Error('SQL parser not loaded: await loadSqlParser() first');
}

// ---------------------------------------------------------------------------------------
// Node helpers

/** A JSON object from the parse tree: a wrapped node, a bare struct, or a value node. */
export type PgObject = Readonly<Record<string, unknown>>;

export function isObject(value: unknown): value is PgObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : EMPTY;
}
const EMPTY: readonly unknown[] = Object.freeze([]);

/** Node types are PascalCase; struct fields start lower-case (`relname`, `larg`…). */
function isNodeTypeName(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 65 && c <= 90; // A-Z
}

/**
 * If `value` is a wrapped node `{ Type: {…} }`, returns its type name; otherwise
 * undefined (a bare struct, a list, a scalar).
 */
export function nodeType(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  let found: string | undefined;
  for (const key in value) {
    if (found !== undefined || !isNodeTypeName(key)) return undefined;
    found = key;
  }
  return found !== undefined && isObject(value[found]) ? found : undefined;
}

/** The fields of a wrapped node of the given type, or undefined when it is not one. */
export function nodeBody(value: unknown, type: string): PgObject | undefined {
  if (!isObject(value)) return undefined;
  const body = value[type];
  return isObject(body) ? body : undefined;
}

export function field(obj: PgObject, key: string): PgObject | undefined {
  const value = obj[key];
  return isObject(value) ? value : undefined;
}

export function stringField(obj: PgObject, key: string): string | undefined {
  const value = obj[key];
  return typeof value === 'string' ? value : undefined;
}

/** Absent booleans are false in libpg_query's JSON. */
export function boolField(obj: PgObject, key: string): boolean {
  return obj[key] === true;
}

/** Absent numbers are 0 in libpg_query's JSON. */
export function numberField(obj: PgObject, key: string): number {
  const value = obj[key];
  return typeof value === 'number' ? value : 0;
}

/** The value of a `{ "String": { "sval": … } }` node (absent sval is the empty string). */
export function stringNodeValue(value: unknown): string | undefined {
  const body = nodeBody(value, 'String');
  if (body === undefined) return undefined;
  return stringField(body, 'sval') ?? '';
}

/**
 * A qualified name given as a list of String nodes (`funcname`, DROP object names…).
 * Undefined if any element is not a String node.
 */
export function nameList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: string[] = [];
  for (const item of value) {
    const s = stringNodeValue(item);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

export type ConstValue =
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'integer'; readonly value: number }
  | { readonly type: 'float'; readonly value: string }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'null' };

/**
 * Reads of numeric literal values so far. Results computed from SQL text are cached per
 * literal shape (statements differing only in numeric literals share an entry, see
 * numeric-literal-key.ts), which is only sound for a result that no literal's value
 * decided: `EXPLAIN (ANALYZE 0) DELETE …` runs nothing, `(ANALYZE 1)` deletes. Every read
 * of an Integer or Float value goes through this module so `readingNumericLiterals` sees it.
 */
let numericLiteralReads = 0;

/** Runs `compute` and tells whether it read the value of any numeric literal. */
export function readingNumericLiterals<T>(compute: () => T): { readonly result: T; readonly readLiteral: boolean } {
  const before = numericLiteralReads;
  const result = compute();
  return { result, readLiteral: numericLiteralReads !== before };
}

/** The value of a bare `{ "Integer": … }` node (an option argument), or undefined. */
export function integerNodeValue(value: unknown): number | undefined {
  const body = nodeBody(value, 'Integer');
  if (body === undefined) return undefined;
  numericLiteralReads++;
  return numberField(body, 'ival');
}

/** The text of a bare `{ "Float": … }` node, or undefined. */
export function floatNodeText(value: unknown): string | undefined {
  const body = nodeBody(value, 'Float');
  if (body === undefined) return undefined;
  numericLiteralReads++;
  return stringField(body, 'fval');
}

/** The constant an `A_Const` node holds (looking through `TypeCast`s of constants). */
export function constantValue(value: unknown): ConstValue | undefined {
  const cast = nodeBody(value, 'TypeCast');
  if (cast !== undefined) return constantValue(cast['arg']);
  const c = nodeBody(value, 'A_Const');
  if (c === undefined) return undefined;
  if (boolField(c, 'isnull')) return { type: 'null' };
  const sval = field(c, 'sval');
  if (sval !== undefined) return { type: 'string', value: stringField(sval, 'sval') ?? '' };
  const ival = field(c, 'ival');
  if (ival !== undefined) {
    numericLiteralReads++;
    return { type: 'integer', value: numberField(ival, 'ival') };
  }
  const fval = field(c, 'fval');
  if (fval !== undefined) {
    numericLiteralReads++;
    return { type: 'float', value: stringField(fval, 'fval') ?? '0' };
  }
  const bval = field(c, 'boolval');
  if (bval !== undefined) return { type: 'boolean', value: boolField(bval, 'boolval') };
  return undefined; // bit strings and anything newer
}

// ---------------------------------------------------------------------------------------
// Parsing

/** The parser rejected the text. `position` is a 0-based UTF-16 index into that text. */
export class SqlParseError extends Error {
  override readonly name = 'SqlParseError';
  constructor(
    message: string,
    readonly position: number | undefined,
  ) {
    super(message);
  }
}

export interface RawStatement {
  /** The wrapped statement node, e.g. `{ SelectStmt: {…} }`. */
  readonly node: PgObject;
  /** Byte offset of the statement in the UTF-8 encoding of the parsed text. */
  readonly byteStart: number;
  /** Byte length, or undefined for "to the end of the text". */
  readonly byteLength: number | undefined;
}

export type SqlParseResult =
  | { readonly ok: true; readonly version: number; readonly statements: readonly RawStatement[] }
  | { readonly ok: false; readonly error: SqlParseError };

/**
 * Parses SQL text (one or many statements). Never throws for bad SQL: a rejected text
 * comes back as `{ ok: false }` with the parser's message and position.
 */
export function parseSql(text: string): SqlParseResult {
  assertLoaded();
  if (text.length === 0) return { ok: true, version: 0, statements: [] };
  const invalid = checkText(text);
  if (invalid !== undefined) return { ok: false, error: invalid };
  let result: unknown;
  try {
    result = parseSync(text);
  } catch (error) {
    return { ok: false, error: toParseError(error, text) };
  }
  if (!isObject(result)) return { ok: false, error: new SqlParseError('parser returned no tree', undefined) };
  const statements: RawStatement[] = [];
  for (const raw of asArray(result['stmts'])) {
    if (!isObject(raw)) continue;
    const node = field(raw, 'stmt');
    if (node === undefined) continue;
    const len = raw['stmt_len'];
    statements.push({
      node,
      byteStart: numberField(raw, 'stmt_location'),
      byteLength: typeof len === 'number' && len > 0 ? len : undefined,
    });
  }
  return { ok: true, version: numberField(result, 'version'), statements };
}

export type PlpgsqlParseResult =
  | { readonly ok: true; readonly functions: readonly PgObject[] }
  | { readonly ok: false; readonly error: SqlParseError };

/**
 * Compiles the PL/pgSQL bodies of the `DO` / `CREATE FUNCTION … LANGUAGE plpgsql`
 * statements in `text` and returns each `PLpgSQL_function`. Bodies in other languages
 * come back empty (libpg_query skips them), so callers decide the language first.
 * Note libpg_query has no catalog: `%ROWTYPE` field references and the like can fail
 * here although a real server would accept them.
 */
export function parsePlpgsql(text: string): PlpgsqlParseResult {
  assertLoaded();
  const invalid = checkText(text);
  if (invalid !== undefined) return { ok: false, error: invalid };
  let result: unknown;
  try {
    result = parsePlPgSQLSync(text);
  } catch (error) {
    return { ok: false, error: toParseError(error, text) };
  }
  const functions: PgObject[] = [];
  if (isObject(result)) {
    for (const item of asArray(result['plpgsql_funcs'])) {
      const fn = nodeBody(item, 'PLpgSQL_function');
      if (fn !== undefined) functions.push(fn);
    }
  }
  return { ok: true, functions };
}

export interface SqlToken {
  /** Token text as written. */
  readonly text: string;
  /** Byte offsets into the UTF-8 encoding of the scanned text. */
  readonly byteStart: number;
  readonly byteEnd: number;
}

/** Runs PostgreSQL's lexer (no grammar) over `text`. */
export function scanSql(text: string): readonly SqlToken[] | SqlParseError {
  assertLoaded();
  const invalid = checkText(text);
  if (invalid !== undefined) return invalid;
  let result: unknown;
  try {
    result = scanSync(text);
  } catch (error) {
    return toParseError(error, text);
  }
  const tokens: SqlToken[] = [];
  if (isObject(result)) {
    for (const t of asArray(result['tokens'])) {
      if (!isObject(t)) continue;
      tokens.push({
        text: stringField(t, 'text') ?? '',
        byteStart: numberField(t, 'start'),
        byteEnd: numberField(t, 'end'),
      });
    }
  }
  return tokens;
}

/**
 * Text the C parser would see differently from us is refused: it stops at a NUL, and
 * the WASM string encoder merges a lone surrogate with the next character (which could
 * swallow a quote). Text decoded from the wire never has lone surrogates.
 */
function checkText(text: string): SqlParseError | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return new SqlParseError('SQL text contains a NUL character', i);
    if (c < 0xd800 || c > 0xdfff) continue;
    const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
    if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    return new SqlParseError('SQL text is not well-formed Unicode (lone surrogate)', i);
  }
  return undefined;
}

function toParseError(error: unknown, text: string): SqlParseError {
  // A RangeError is the JS stack running out decoding a very deep tree.
  if (error instanceof RangeError) return new SqlParseError('SQL is nested too deeply to parse', undefined);
  const message = error instanceof Error ? error.message : String(error);
  let position: number | undefined;
  if (isObject(error)) {
    const details = error['sqlDetails'];
    if (isObject(details) && typeof details['cursorPosition'] === 'number') {
      // libpg_query reports a 0-based position counted in characters (code points).
      position = codePointToUtf16Index(text, details['cursorPosition']);
    }
  }
  return new SqlParseError(message, position);
}

// ---------------------------------------------------------------------------------------
// Text offsets

/** True when every UTF-16 unit is ASCII, so byte, code point and UTF-16 offsets agree. */
export function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function codePointToUtf16Index(text: string, codePoints: number): number {
  let index = 0;
  for (let n = 0; n < codePoints && index < text.length; n++) {
    const c = text.charCodeAt(index);
    index += c >= 0xd800 && c <= 0xdbff && index + 1 < text.length ? 2 : 1;
  }
  return index;
}

/**
 * Slices `text` by UTF-8 byte offsets (what the parser and scanner report). `bytes` is
 * the text's UTF-8 encoding, or undefined when the text is pure ASCII.
 */
export function sliceByBytes(text: string, bytes: Buffer | undefined, start: number, end: number | undefined): string {
  if (bytes === undefined) return text.slice(start, end);
  return bytes.toString('utf8', start, end ?? bytes.length);
}

/** The UTF-8 bytes of `text` when it has non-ASCII characters, else undefined (fast path). */
export function utf8IfNeeded(text: string): Buffer | undefined {
  return isAscii(text) ? undefined : Buffer.from(text, 'utf8');
}
