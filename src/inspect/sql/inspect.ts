/**
 * The SQL inspector: text in, facts out, using the real PostgreSQL parser (libpg-query).
 * Pure and synchronous once `loadSqlParser()` has resolved.
 *
 * - Every statement of a multi-statement text gets its own StatementFacts, with its own
 *   text (sliced by the parser's byte offsets, so multi-byte characters are safe).
 * - Names are as the parser resolved them (quotes, `U&` escapes, case folding), never
 *   raw text; literals, dollar quotes and comments can hide nothing.
 * - Fails closed: text the parser rejects is `ok: false`; node kinds or bodies the
 *   inspector does not understand are class `unknown`.
 *
 * Kinds and classes: statement-kinds.ts. Dangerous functions: dangerous-functions.ts.
 * Parse-relevant settings: settings.ts.
 */
import { moreDangerous } from './classes.js';
import { FactCollector, FLAG_ORDER } from './collector.js';
import { DEFAULT_DANGEROUS_FUNCTIONS, type DangerousFunctionTable } from './dangerous-functions.js';
import type { FunctionCall, SqlFlag, SqlInspection, StatementFacts, TableAccess } from './facts.js';
import { nodeType, parseSql, sliceByBytes, utf8IfNeeded } from './parser.js';
import { kindOfNodeType } from './statement-kinds.js';
import { StatementWalker } from './walker.js';

export interface InspectOptions {
  /**
   * The dangerous-function table to use; build it once from config with
   * `withExtraDangerousFunctions(extra)`. Defaults to the built-in list.
   */
  readonly dangerousFunctions?: DangerousFunctionTable;
}

/** Inspects every statement of `text`. Requires `await loadSqlParser()` first. */
export function inspectSql(text: string, options: InspectOptions = {}): SqlInspection {
  const parsed = parseSql(text);
  if (!parsed.ok) return { ok: false, error: parsed.error.message, position: parsed.error.position };
  const dangerous = options.dangerousFunctions ?? DEFAULT_DANGEROUS_FUNCTIONS;
  const [first] = parsed.statements;
  // The common case, one statement spanning the whole text, needs no slicing.
  const whole = parsed.statements.length === 1 && first?.byteStart === 0 && first.byteLength === undefined;
  const bytes = whole ? undefined : utf8IfNeeded(text);
  const statements: StatementFacts[] = [];
  try {
    for (const stmt of parsed.statements) {
      const end = stmt.byteLength === undefined ? undefined : stmt.byteStart + stmt.byteLength;
      const stmtText = whole ? text : sliceByBytes(text, bytes, stmt.byteStart, end);
      statements.push(inspectStatementNode(stmt.node, stmtText, dangerous));
    }
  } catch (error) {
    // E.g. an expression nested deeper than the JS stack (thousands of levels): refuse
    // rather than guess.
    const message =
      error instanceof RangeError ? 'it is nested too deeply' : error instanceof Error ? error.message : String(error);
    return { ok: false, error: `SQL could not be inspected: ${message}`, position: undefined };
  }
  return { ok: true, statements };
}

function inspectStatementNode(
  node: Readonly<Record<string, unknown>>,
  text: string,
  dangerous: DangerousFunctionTable,
): StatementFacts {
  const type = nodeType(node) ?? 'UnknownStmt';
  const collector = new FactCollector();
  new StatementWalker(collector, dangerous, text).statement(node);
  const r = collector.result();
  const facts: StatementFacts = {
    kind: kindOfNodeType(type),
    class: r.class,
    tables: r.tables,
    functions: r.functions,
    flags: r.flags,
    text,
    notes: r.notes,
  };
  if (collector.preparesName !== undefined) return { ...facts, preparesName: collector.preparesName };
  if (collector.deallocatesName !== undefined) return { ...facts, deallocatesName: collector.deallocatesName };
  if (collector.preparedName === undefined) return facts;
  return { ...facts, preparedName: collector.preparedName, classWithoutPrepared: r.classWithoutPrepared };
}

/**
 * The facts of a statement that executes prepared statement `preparedName`, with the
 * facts remembered from its PREPARE substituted in: class is the more dangerous of the
 * two, tables/functions/flags/notes are merged. Returns `execute` unchanged when it runs
 * no prepared statement.
 */
export function withPreparedFacts(execute: StatementFacts, prepared: StatementFacts): StatementFacts {
  if (execute.preparedName === undefined) return execute;
  const tables = new Map<string, TableAccess>();
  for (const t of [...execute.tables, ...prepared.tables]) {
    tables.set(`${t.schema ?? ''}\u0000${t.name}\u0000${t.access}`, t);
  }
  const functions = new Map<string, FunctionCall>();
  for (const f of [...execute.functions, ...prepared.functions]) functions.set(`${f.schema ?? ''}\u0000${f.name}`, f);
  const flags = new Set<SqlFlag>([...execute.flags, ...prepared.flags]);
  return {
    kind: execute.kind,
    class: moreDangerous(execute.classWithoutPrepared ?? 'unknown', prepared.class),
    tables: [...tables.values()],
    functions: [...functions.values()],
    flags: FLAG_ORDER.filter((f) => flags.has(f)),
    text: execute.text,
    notes: [...new Set([...(execute.notes ?? []), ...(prepared.notes ?? [])])],
  };
}
