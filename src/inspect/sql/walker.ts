/**
 * Walks one statement's parse tree and records its facts in a FactCollector.
 *
 * The walk is generic — it descends into every field of every node — with handlers for
 * the nodes whose meaning depends on context: statements (their class, their target
 * tables), table references (CTE scope, read or write), function calls (dangerous
 * built-ins), settings, and bodies written in other languages (DO, CREATE FUNCTION),
 * which are parsed and walked in turn. A generic walk cannot miss a table or function
 * hidden in an unusual place; the handlers only add meaning.
 */
import { FactCollector } from './collector.js';
import type { DangerousFunctionTable } from './dangerous-functions.js';
import { lookupDangerousFunction } from './dangerous-functions.js';
import {
  asArray,
  boolField,
  constantValue,
  field,
  integerNodeValue,
  isObject,
  nameList,
  nodeBody,
  nodeType,
  parsePlpgsql,
  parseSql,
  scanSql,
  sliceByBytes,
  SqlParseError,
  stringField,
  stringNodeValue,
  utf8IfNeeded,
  type PgObject,
} from './parser.js';
import { PLPGSQL_PARSE_MODE, walkPlpgsqlFunction } from './plpgsql.js';
import { adminParameterReason, isParseRelevantChange } from './settings.js';
import { ownClassOfNodeType } from './statement-kinds.js';

type Access = 'read' | 'write';

/** CTE names visible at a point of a query, innermost first. */
interface Scope {
  readonly name: string;
  readonly parent: Scope | undefined;
}

function inScope(scope: Scope | undefined, name: string): boolean {
  for (let s = scope; s !== undefined; s = s.parent) if (s.name === name) return true;
  return false;
}

/** Bodies nested deeper than this (DO inside a function body inside …) are not inspected: unknown. */
const MAX_BODY_DEPTH = 8;

/** Leaf nodes with nothing to find inside. */
const LEAVES = new Set([
  'A_Const',
  'String',
  'Integer',
  'Float',
  'Boolean',
  'BitString',
  'ParamRef',
  'A_Star',
  'ColumnRef',
  'SQLValueFunction',
]);

/** Catalog views that only wrap a function on the dangerous list. */
const CATALOG_VIEWS_OVER_DANGEROUS_FUNCTIONS: Readonly<Record<string, string>> = {
  pg_file_settings: 'pg_show_all_file_settings',
  pg_hba_file_rules: 'pg_hba_file_rules',
  pg_ident_file_mappings: 'pg_ident_file_mappings',
};

/** DROP object types whose objects are relations a table rule can name. */
const DROPPED_RELATIONS = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_SEQUENCE',
]);

const TWO_PHASE = new Set(['TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']);

export class StatementWalker {
  constructor(
    private readonly c: FactCollector,
    private readonly dangerous: DangerousFunctionTable,
    /** The text of the statement being walked (PL/pgSQL bodies are compiled from it). */
    private readonly sourceText: string,
    private readonly depth = 0,
  ) {}

  /** Walks a top-level statement node (`{ SelectStmt: … }`). */
  statement(node: PgObject): void {
    const type = nodeType(node);
    if (type === undefined || !isStatementType(type)) {
      // Not a statement node: nothing here can say what it does.
      this.c.addRiskClass('unknown', `unexpected top-level node ${type ?? '(none)'}`);
    }
    this.walk(node, undefined, 'write');
  }

  private walk(value: unknown, scope: Scope | undefined, access: Access): void {
    if (Array.isArray(value)) {
      for (const item of value) this.walk(item, scope, access);
      return;
    }
    if (!isObject(value)) return;
    const type = nodeType(value);
    if (type === undefined) this.bare(value, scope, access);
    else this.node(type, value[type] as PgObject, scope, access);
  }

  private fields(obj: PgObject, scope: Scope | undefined, access: Access, skip?: ReadonlySet<string>): void {
    for (const key in obj) {
      if (skip !== undefined && skip.has(key)) continue;
      const v = obj[key];
      if (typeof v === 'object' && v !== null) this.walk(v, scope, access);
    }
  }

  /**
   * Fields typed as a specific struct are emitted without a wrapper; recognise the ones
   * that carry meaning by their shape (RangeVar: `relname`; SelectStmt: `op`, as in the
   * `larg`/`rarg` of a UNION; FuncCall: `funcname` + `funcformat`, as in CALL).
   */
  private bare(obj: PgObject, scope: Scope | undefined, access: Access): void {
    if (typeof obj['relname'] === 'string') this.rangeVar(obj, scope, access);
    else if (typeof obj['op'] === 'string' && obj['op'].startsWith('SETOP_')) this.select(obj, scope);
    else if (Array.isArray(obj['funcname']) && typeof obj['funcformat'] === 'string') this.funcCall(obj, scope);
    else this.fields(obj, scope, access);
  }

  private node(type: string, body: PgObject, scope: Scope | undefined, access: Access): void {
    // `o.fn` and `(o).fn` call fn(o) when fn is a function (attribute notation): a dangerous
    // name in that position is judged as a call, whatever it turns out to be.
    if (type === 'ColumnRef') return this.attributeNotation(asArray(body['fields']).slice(1));
    if (type === 'A_Indirection') this.attributeNotation(asArray(body['indirection']));
    if (LEAVES.has(type)) return;
    switch (type) {
      case 'RangeVar':
        return this.rangeVar(body, scope, access);
      case 'FuncCall':
        return this.funcCall(body, scope);
      case 'SelectStmt':
        return this.select(body, scope);
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return this.dml(type, body, scope);
      case 'ExplainStmt':
        return this.explain(body, scope);
      case 'CopyStmt':
        return this.copy(body, scope);
      case 'PrepareStmt':
        // The session remembers what `name` was prepared as, for a later EXECUTE.
        this.c.preparesName ??= stringField(body, 'name') ?? '';
        return this.fields(body, scope, access);
      case 'DeallocateStmt':
        this.c.deallocatesName ??= stringField(body, 'name') ?? '*';
        return this.fields(body, scope, access);
      case 'ExecuteStmt':
        // Class decided by what `name` was prepared as (see StatementFacts.preparedName).
        this.c.preparedName ??= stringField(body, 'name') ?? '';
        return this.fields(body, scope, 'read');
      case 'VariableSetStmt':
        return this.variableSet(body);
      case 'AlterRoleSetStmt':
      case 'AlterDatabaseSetStmt':
        this.c.addKindClass('admin');
        this.settingChange(field(body, 'setstmt'), 'ALTER ROLE/DATABASE … SET');
        return this.fields(body, scope, 'write', SKIP_SETSTMT);
      case 'DiscardStmt':
        this.c.addKindClass('session');
        if (stringField(body, 'target') === 'DISCARD_ALL') {
          this.parseRelevant('DISCARD ALL resets the role and every setting');
        }
        return;
      case 'TransactionStmt':
        if (TWO_PHASE.has(stringField(body, 'kind') ?? '')) {
          this.c.addKindClass('admin');
          this.c.addNote('two-phase commit: a prepared transaction outlives the session and keeps its locks');
        } else this.c.addKindClass('transaction');
        return this.fields(body, scope, 'read');
      case 'DropStmt':
        return this.drop(body);
      case 'AlterFunctionStmt':
        // Its actions are function options (volatility, SET for calls of the function…),
        // none of which runs now.
        this.c.addKindClass('ddl');
        return;
      case 'DoStmt':
        return this.doBlock(body);
      case 'CreateFunctionStmt':
        return this.createFunction(body, scope);
      default:
        if (isStatementType(type)) return this.otherStatement(type, body);
        return this.fields(body, scope, access);
    }
  }

  // -------------------------------------------------------------------------------------
  // Queries and DML

  private rangeVar(body: PgObject, scope: Scope | undefined, access: Access): void {
    const name = stringField(body, 'relname');
    if (name === undefined) return;
    const schema = stringField(body, 'schemaname');
    // An unqualified name that matches a CTE in scope is the CTE, not a table.
    if (schema === undefined && inScope(scope, name)) return;
    this.table(schema, name, access);
  }

  /** A statement's own target: never resolved against CTEs. */
  private target(rel: PgObject | undefined, access: Access): void {
    if (rel === undefined) return;
    const name = stringField(rel, 'relname');
    if (name !== undefined) this.table(stringField(rel, 'schemaname'), name, access);
  }

  private table(schema: string | undefined, name: string, access: Access): void {
    this.c.addTable(schema, name, access);
    const wrapped = CATALOG_VIEWS_OVER_DANGEROUS_FUNCTIONS[name];
    if (wrapped !== undefined && (schema === undefined || schema === 'pg_catalog')) {
      // The view is nothing but a call of the listed function: judge it as that call.
      this.calledByName(wrapped, `reads ${name}, a view over ${wrapped}`);
    }
    // `UPDATE pg_settings SET setting = …` is SET by another name (a rule calls set_config).
    if (access === 'write' && name === 'pg_settings' && (schema === undefined || schema === 'pg_catalog')) {
      this.parseRelevant('writing pg_settings changes run-time settings');
    }
  }

  /**
   * WITH: a CTE's name is visible in the main query and in the CTEs after it (with
   * RECURSIVE, in every CTE including itself). A CTE body is walked where it stands, so a
   * data-modifying CTE counts as the DML it is.
   */
  private withClause(withClause: PgObject | undefined, scope: Scope | undefined): Scope | undefined {
    if (withClause === undefined) return scope;
    const ctes: PgObject[] = [];
    for (const item of asArray(withClause['ctes'])) {
      const cte = nodeBody(item, 'CommonTableExpr');
      if (cte !== undefined) ctes.push(cte);
    }
    if (boolField(withClause, 'recursive')) {
      let all = scope;
      for (const cte of ctes) all = { name: stringField(cte, 'ctename') ?? '', parent: all };
      for (const cte of ctes) this.walk(cte['ctequery'], all, 'read');
      return all;
    }
    let visible = scope;
    for (const cte of ctes) {
      this.walk(cte['ctequery'], visible, 'read');
      visible = { name: stringField(cte, 'ctename') ?? '', parent: visible };
    }
    return visible;
  }

  private select(body: PgObject, outer: Scope | undefined): void {
    this.c.addKindClass('read');
    const scope = this.withClause(field(body, 'withClause'), outer);
    const locking = asArray(body['lockingClause']).length > 0;
    if (locking) {
      this.c.addKindClass('write');
      this.c.addNote('SELECT … FOR UPDATE/SHARE locks rows (a write)');
    }
    const into = field(body, 'intoClause');
    if (into !== undefined) {
      this.c.addKindClass('ddl');
      this.target(field(into, 'rel'), 'write');
      this.c.addNote('SELECT … INTO creates a table');
    }
    for (const key in body) {
      const v = body[key];
      if (typeof v !== 'object' || v === null) continue;
      switch (key) {
        case 'withClause':
        case 'intoClause':
        case 'lockingClause': // names FROM items already walked
          break;
        case 'fromClause':
          this.walk(v, scope, locking ? 'write' : 'read');
          break;
        case 'larg':
        case 'rarg':
          if (isObject(v)) this.select(v, scope);
          break;
        default:
          this.walk(v, scope, 'read');
      }
    }
  }

  private dml(type: string, body: PgObject, outer: Scope | undefined): void {
    this.c.addKindClass('write');
    const scope = this.withClause(field(body, 'withClause'), outer);
    this.target(field(body, 'relation'), 'write');
    if (type === 'UpdateStmt' && body['whereClause'] === undefined) {
      this.c.addFlag('update_without_where', 'UPDATE without WHERE changes every row');
    }
    if (type === 'DeleteStmt' && body['whereClause'] === undefined) {
      this.c.addFlag('delete_without_where', 'DELETE without WHERE removes every row');
    }
    this.fields(body, scope, 'read', SKIP_DML);
  }

  private explain(body: PgObject, scope: Scope | undefined): void {
    this.c.addKindClass('read');
    if (explainAnalyzes(asArray(body['options']))) {
      this.c.addFlag('explain_analyze', 'EXPLAIN ANALYZE runs the statement');
      this.walk(body['query'], scope, 'read');
      return;
    }
    // Not run: count what it would do as reads; dangerous calls and unknowns still count.
    const child = new FactCollector();
    new StatementWalker(child, this.dangerous, this.sourceText, this.depth).walk(body['query'], scope, 'read');
    this.c.merge(child, true);
  }

  private copy(body: PgObject, scope: Scope | undefined): void {
    const isFrom = boolField(body, 'is_from');
    this.c.addKindClass(isFrom ? 'write' : 'read');
    if (boolField(body, 'is_program')) {
      this.c.addFlag('copy_server_side');
      this.c.addRiskClass('admin', 'COPY … PROGRAM runs a program on the database server');
    } else if (stringField(body, 'filename') !== undefined) {
      this.c.addFlag('copy_server_side');
      this.c.addRiskClass('admin', 'COPY to or from a file reads or writes files on the database server');
    }
    this.target(field(body, 'relation'), isFrom ? 'write' : 'read');
    this.walk(body['query'], scope, 'read');
    this.walk(body['whereClause'], scope, 'read');
  }

  private drop(body: PgObject): void {
    this.c.addKindClass('ddl');
    if (!DROPPED_RELATIONS.has(stringField(body, 'removeType') ?? '')) return;
    for (const object of asArray(body['objects'])) {
      const names = nameList(nodeBody(object, 'List')?.['items']);
      if (names === undefined || names.length === 0) continue;
      const name = names[names.length - 1] as string;
      this.c.addTable(names.length >= 2 ? names[names.length - 2] : undefined, name, 'write');
    }
  }

  /** Any other statement: its class from the table; relations it names count as written. */
  private otherStatement(type: string, body: PgObject): void {
    const own = ownClassOfNodeType(type);
    if (own === 'unknown') this.c.addRiskClass('unknown', `statement type ${type} is not known to the inspector`);
    else this.c.addKindClass(own);
    this.fields(body, undefined, 'write');
  }

  // -------------------------------------------------------------------------------------
  // Functions and settings

  private funcCall(body: PgObject, scope: Scope | undefined): void {
    const names = nameList(body['funcname']);
    if (names !== undefined && names.length > 0) {
      const name = names[names.length - 1] as string;
      this.c.addFunction(names.length >= 2 ? names[names.length - 2] : undefined, name);
      this.calledByName(name, `calls ${name}`);
      if (name.toLowerCase() === 'set_config') this.setConfig(asArray(body['args']));
    }
    this.fields(body, scope, 'read', SKIP_FUNCNAME);
  }

  /** Applies the dangerous-function table to a call (or a call in disguise) of `name`. */
  private calledByName(name: string, what: string): void {
    const danger = lookupDangerousFunction(this.dangerous, name);
    if (danger === undefined) return;
    this.c.addFlag('dangerous_function');
    this.c.addRiskClass(danger.class, `${what}: ${danger.reason}`);
    if (danger.dynamicSql === true) this.c.addFlag('dynamic_sql');
  }

  private attributeNotation(names: readonly unknown[]): void {
    for (const n of names) {
      const name = stringNodeValue(n);
      if (name !== undefined) this.calledByName(name, `calls ${name} (attribute notation)`);
    }
  }

  /** `set_config(setting_name, new_value, is_local)`, positional or named arguments. */
  private setConfig(args: readonly unknown[]): void {
    let setting: unknown;
    let value: unknown;
    let position = 0;
    for (const arg of args) {
      const named = nodeBody(arg, 'NamedArgExpr');
      if (named !== undefined) {
        const argName = stringField(named, 'name');
        if (argName === 'setting_name') setting = named['arg'];
        else if (argName === 'new_value') value = named['arg'];
      } else {
        if (position === 0) setting = arg;
        else if (position === 1) value = arg;
        position++;
      }
    }
    const name = constantText(setting);
    if (name === undefined) {
      this.parseRelevant('set_config with a setting name that is not a constant');
      return;
    }
    if (isParseRelevantChange(name, constantText(value))) this.parseRelevant(`set_config changes ${name}`);
    const admin = adminParameterReason(name);
    if (admin !== undefined) this.c.addRiskClass('admin', `set_config changes ${name}: ${admin}`);
  }

  private variableSet(body: PgObject): void {
    const kind = stringField(body, 'kind');
    const name = stringField(body, 'name') ?? '';
    if (kind === 'VAR_SET_MULTI') {
      // SET TRANSACTION … / SET SESSION CHARACTERISTICS AS TRANSACTION …
      this.c.addKindClass(name === 'TRANSACTION' ? 'transaction' : 'session');
      return;
    }
    this.c.addKindClass('session');
    this.settingChange(body, 'SET/RESET');
  }

  /** Judges a VariableSetStmt (also inside ALTER ROLE/DATABASE … SET). */
  private settingChange(set: PgObject | undefined, what: string): void {
    if (set === undefined) return;
    const kind = stringField(set, 'kind');
    if (kind === 'VAR_RESET_ALL') {
      this.parseRelevant('RESET ALL resets the role, search_path and every other setting');
      return;
    }
    if (kind === 'VAR_SET_MULTI') return;
    const name = stringField(set, 'name') ?? '';
    let value: string | undefined;
    if (kind === 'VAR_SET_VALUE') {
      const args = asArray(set['args']);
      if (args.length === 1) value = constantText(args[0]);
    }
    if (isParseRelevantChange(name, value)) this.parseRelevant(`${what} ${name}`);
    const admin = adminParameterReason(name);
    if (admin !== undefined) this.c.addRiskClass('admin', `${what} ${name}: ${admin}`);
  }

  private parseRelevant(note: string): void {
    this.c.addFlag('parse_relevant_setting');
    this.c.addRiskClass('admin', `${note} (changes how later statements are parsed or who runs them)`);
  }

  // -------------------------------------------------------------------------------------
  // Bodies in other languages

  private doBlock(body: PgObject): void {
    this.c.addKindClass('read');
    let language = 'plpgsql';
    for (const arg of asArray(body['args'])) {
      const def = nodeBody(arg, 'DefElem');
      if (def !== undefined && stringField(def, 'defname') === 'language') {
        language = stringNodeValue(def['arg']) ?? '';
      }
    }
    if (language === 'plpgsql') this.plpgsqlBody('DO block');
    else this.opaqueBody(`DO block in language ${language}`);
  }

  private createFunction(body: PgObject, scope: Scope | undefined): void {
    this.c.addKindClass('ddl');
    let language: string | undefined;
    let source: readonly unknown[] | undefined;
    for (const option of asArray(body['options'])) {
      const def = nodeBody(option, 'DefElem');
      if (def === undefined) continue;
      const name = stringField(def, 'defname');
      if (name === 'language') language = stringNodeValue(def['arg']);
      else if (name === 'as') source = asArray(nodeBody(def['arg'], 'List')?.['items']);
      // Other options (volatility, SECURITY, SET … applied during calls) do not run now.
    }
    this.walk(body['parameters'], scope, 'read'); // DEFAULT expressions
    const sqlBody = body['sql_body'];
    if (sqlBody !== undefined) {
      this.walk(sqlBody, undefined, 'write'); // BEGIN ATOMIC … END / RETURN …
      return;
    }
    const what = boolField(body, 'is_procedure') ? 'procedure' : 'function';
    if (language === 'sql' && source !== undefined && source.length === 1) {
      this.sqlBody(stringNodeValue(source[0]) ?? '', `SQL ${what} body`);
    } else if (language === 'plpgsql') {
      this.plpgsqlBody(`PL/pgSQL ${what} body`);
    } else {
      this.opaqueBody(`${what} body in language ${language ?? '(none given)'}`);
    }
  }

  /** A body the inspector cannot read can do anything. */
  private opaqueBody(what: string): void {
    this.c.addFlag('dynamic_sql');
    this.c.addRiskClass('admin', `${what} cannot be inspected`);
  }

  /** Parses and walks SQL text found inside the statement (function bodies, PL/pgSQL). */
  private sqlBody(text: string, what: string): void {
    if (this.depth >= MAX_BODY_DEPTH) {
      this.c.addRiskClass('unknown', `${what} nested too deeply to inspect`);
      return;
    }
    const parsed = parseSql(text);
    if (!parsed.ok) {
      this.c.addRiskClass('unknown', `${what} could not be parsed: ${parsed.error.message}`);
      return;
    }
    const bytes = parsed.statements.length > 1 ? utf8IfNeeded(text) : undefined;
    for (const stmt of parsed.statements) {
      const end = stmt.byteLength === undefined ? undefined : stmt.byteStart + stmt.byteLength;
      const stmtText = parsed.statements.length > 1 ? sliceByBytes(text, bytes, stmt.byteStart, end) : text;
      new StatementWalker(this.c, this.dangerous, stmtText, this.depth + 1).statement(stmt.node);
    }
  }

  /** Compiles the PL/pgSQL of this statement (a DO or CREATE FUNCTION) and walks every SQL part. */
  private plpgsqlBody(what: string): void {
    if (this.depth >= MAX_BODY_DEPTH) {
      this.c.addRiskClass('unknown', `${what} nested too deeply to inspect`);
      return;
    }
    const parsed = parsePlpgsql(this.sourceText);
    if (!parsed.ok || parsed.functions.length !== 1) {
      const why = parsed.ok ? 'no single body found' : parsed.error.message;
      this.c.addRiskClass('unknown', `${what} could not be parsed: ${why}`);
      return;
    }
    walkPlpgsqlFunction(parsed.functions[0], {
      expression: (query, mode) => this.plpgsqlExpression(query, mode, what),
      dynamicSql: (construct) => {
        this.c.addFlag('dynamic_sql');
        this.c.addRiskClass('admin', `${what} uses ${construct}: it runs a string as SQL, which cannot be inspected`);
      },
      transactionControl: () => this.c.addKindClass('transaction'),
    });
  }

  private plpgsqlExpression(query: string, mode: number, what: string): void {
    if (query.trim() === '') return;
    switch (mode) {
      case PLPGSQL_PARSE_MODE.statement:
        return this.sqlBody(query, what);
      case PLPGSQL_PARSE_MODE.expression:
        return this.sqlBody(`SELECT ${query}`, what);
      case PLPGSQL_PARSE_MODE.assign1:
      case PLPGSQL_PARSE_MODE.assign2:
      case PLPGSQL_PARSE_MODE.assign3: {
        const parts = splitAssignment(query);
        if (parts === undefined) {
          this.c.addRiskClass('unknown', `${what}: assignment could not be parsed`);
          return;
        }
        // The target may hold subscript expressions (`a[f(x)] := …`): inspect both sides.
        this.sqlBody(`SELECT ${parts.target}`, what);
        this.sqlBody(`SELECT ${parts.value}`, what);
        return;
      }
      default:
        this.c.addRiskClass('unknown', `${what}: expression of parse mode ${mode} is not known to the inspector`);
    }
  }
}

const SKIP_DML = new Set(['withClause', 'relation']);
const SKIP_FUNCNAME = new Set(['funcname']);
const SKIP_SETSTMT = new Set(['setstmt']);

/** Statement node types: every `…Stmt`, and the few that do not end so. */
function isStatementType(type: string): boolean {
  return type.endsWith('Stmt');
}

/** A constant as text (what a GUC receives), or undefined when not a constant. */
function constantText(value: unknown): string | undefined {
  const c = constantValue(value);
  if (c === undefined || c.type === 'null') return undefined;
  return String(c.value);
}

/**
 * EXPLAIN runs the statement when ANALYZE is on. PostgreSQL's boolean option syntax:
 * no value, true/false/on/off/yes/no/1/0 (and unique prefixes). Anything not clearly
 * false counts as on (fail closed).
 */
function explainAnalyzes(options: readonly unknown[]): boolean {
  for (const option of options) {
    const def = nodeBody(option, 'DefElem');
    if (def === undefined || stringField(def, 'defname') !== 'analyze') continue;
    const arg = def['arg'];
    if (arg === undefined) return true;
    const integer = integerNodeValue(arg);
    if (integer !== undefined) {
      if (integer !== 0) return true;
      continue;
    }
    const text = stringNodeValue(arg) ?? constantText(arg);
    if (text === undefined || !isFalseBoolean(text)) return true;
  }
  return false;
}

function isFalseBoolean(text: string): boolean {
  const t = text.toLowerCase();
  if (t.length === 0) return false;
  if ('false'.startsWith(t) || 'no'.startsWith(t) || t === '0') return true;
  return t.length >= 2 && 'off'.startsWith(t);
}

/**
 * Splits a PL/pgSQL assignment `target := value` (or `target = value`) at its operator,
 * using PostgreSQL's own lexer so quotes, comments and brackets are honoured. The
 * operator is the first `:=`/`=` outside brackets (a subscript may contain `=`).
 */
function splitAssignment(query: string): { target: string; value: string } | undefined {
  const tokens = scanSql(query);
  if (tokens instanceof SqlParseError) return undefined;
  let depth = 0;
  for (const token of tokens) {
    if (token.text === '(' || token.text === '[') depth++;
    else if (token.text === ')' || token.text === ']') depth--;
    else if (depth === 0 && (token.text === ':=' || token.text === '=')) {
      const bytes = utf8IfNeeded(query);
      const target = sliceByBytes(query, bytes, 0, token.byteStart);
      const value = sliceByBytes(query, bytes, token.byteEnd, undefined);
      if (target.trim() === '' || value.trim() === '') return undefined;
      return { target, value };
    }
  }
  return undefined;
}
