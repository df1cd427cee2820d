/**
 * One statement's mask plan: what it sends to the client (and how each output column is
 * masked), and whether the masking policy refuses it — because it would copy masked values
 * somewhere the gateway cannot mask them, hides them in code the analysis cannot read,
 * probes them in predicates, or computes outputs from them under a `refuse` policy.
 */
import { copyColumnNames, copyLayout } from './lineage-copy.js';
import { LineageTooComplex, type AnalyzerEnv } from './lineage-expr.js';
import { firstMaskedFlow, NO_COLUMNS, type ColumnSet } from './lineage-flow.js';
import { relationName } from './lineage-names.js';
import { QueryAnalyzer } from './lineage-query.js';
import type { RelationMasks } from './lineage-relations.js';
import {
  binaryCopyRefusal,
  derivedRefusal,
  Findings,
  launderingRefusal,
  opaqueRefusal,
  sqlLevelQueryRefusal,
  unanalysableRefusal,
  unknownOutputsRefusal,
} from './lineage-refusals.js';
import { Level } from './lineage-scope.js';
import type { CopyFormat, StatementMaskPlan } from './plan.js';
import {
  asArray,
  boolField,
  field,
  isObject,
  nameList,
  nodeBody,
  nodeType,
  stringField,
  type PgObject,
} from '../inspect/sql/parser.js';

/** What a statement sends to the client, when its rows have a lineage. */
interface Analysed {
  readonly columns?: ColumnSet;
  readonly copy?: CopyFormat;
}

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** Statements that neither read nor copy column values, nor change what names mean to the masks. */
const HARMLESS = new Set([
  'TransactionStmt',
  'VariableSetStmt',
  'VariableShowStmt',
  'DiscardStmt',
  'ListenStmt',
  'UnlistenStmt',
  'NotifyStmt',
  'LockStmt',
  'TruncateStmt',
  'DropStmt',
  'CheckPointStmt',
  'DeallocateStmt',
  'ClosePortalStmt',
  'ConstraintsSetStmt',
  'VacuumStmt',
  'CommentStmt',
  'FetchStmt',
  // Recompute or reorder a relation's own rows in place, under the same name and lineage.
  'RefreshMatViewStmt',
  'ClusterStmt',
  'ReindexStmt',
]);

export interface PlanningPolicy {
  readonly denyPredicates: boolean;
  readonly onDerived: 'mask' | 'refuse';
}

export class StatementPlanner {
  private readonly findings = new Findings();
  private readonly analyzer: QueryAnalyzer;

  constructor(
    env: AnalyzerEnv,
    private readonly relations: RelationMasks,
    private readonly policy: PlanningPolicy,
  ) {
    this.analyzer = new QueryAnalyzer(env, this.findings);
  }

  plan(node: PgObject): StatementMaskPlan {
    const type = nodeType(node) ?? '';
    const rows = returnsRows(type, nodeBody(node, type) ?? {});
    let analysed: Analysed = {};
    try {
      analysed = this.statement(node);
      if (analysed.columns !== undefined) this.checkOutputs(analysed.columns);
    } catch (error) {
      // RangeError: the JS stack ran out on a deeply nested statement.
      if (!(error instanceof LineageTooComplex || error instanceof RangeError)) throw error;
      this.findings.add('unanalysable', unanalysableRefusal('The statement is too large or too deeply nested to analyse'));
    }
    const columns = analysed.columns;
    const known = columns !== undefined && columns.unknown === undefined;
    const outputs = !rows ? [] : known ? columns.known.map((c) => c.flow) : undefined;
    const refusal = this.findings.refusal(this.policy.denyPredicates);
    return {
      returnsRows: rows,
      outputs,
      ...(analysed.copy !== undefined ? { copy: analysed.copy } : {}),
      ...(refusal !== undefined ? { refusal } : {}),
    };
  }

  private statement(node: unknown): Analysed {
    const type = nodeType(node) ?? '';
    const body = nodeBody(node, type) ?? {};
    const root = new Level(undefined, undefined);
    switch (type) {
      case 'SelectStmt': {
        const columns = this.analyzer.select(body, root);
        const into = field(body, 'intoClause');
        if (into === undefined) return { columns };
        this.stored(columns, 'SELECT … INTO', `into the new table ${relationName(field(into, 'rel'))}`);
        return {};
      }
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt': {
        const columns = this.analyzer.dml(type, body, root);
        return hasReturning(body) ? { columns } : {};
      }
      case 'CopyStmt':
        return this.copy(body);
      case 'ExplainStmt':
        // EXPLAIN prints a plan, not rows; but with ANALYZE it runs the statement.
        this.statement(body['query']);
        return {};
      case 'ExecuteStmt':
        this.passedOn(body['params'], `EXECUTE ${stringField(body, 'name') ?? ''}`, 'into a prepared statement', root);
        return {};
      case 'CallStmt': {
        const call = field(body, 'funccall') ?? {};
        const name = nameList(call['funcname'])?.join('.') ?? '';
        // A procedure can store its arguments or hand them back as OUT parameters, unmasked.
        this.passedOn(call['args'], `CALL ${name}`, 'into a procedure', root);
        return {};
      }
      case 'PrepareStmt': {
        const name = stringField(body, 'name') ?? '';
        this.sqlLevelQuery(body['query'], `PREPARE ${name}`, `EXECUTE ${name}`);
        return {};
      }
      case 'DeclareCursorStmt': {
        const name = stringField(body, 'portalname') ?? '';
        this.sqlLevelQuery(body['query'], `DECLARE ${name} CURSOR`, `FETCH FROM ${name}`);
        return {};
      }
      case 'CreateTableAsStmt':
        this.createTableAs(body);
        return {};
      case 'ViewStmt':
        this.stored(
          this.statement(body['query']).columns,
          'CREATE VIEW',
          `into the view ${relationName(field(body, 'view'))}, which the gateway's catalog does not know yet,`,
        );
        return {};
      case 'DoStmt':
        this.opaque(node, 'The DO block');
        return {};
      case 'CreateFunctionStmt':
        this.opaque(node, boolField(body, 'is_procedure') ? 'The procedure' : 'The function');
        return {};
      case 'CreateStmt':
        // A new child or partition of a masked table would hold its rows under another name.
        if (body['inhRelations'] !== undefined) this.opaque(node, 'CREATE TABLE … INHERITS / PARTITION OF');
        return {};
      default:
        if (!HARMLESS.has(type)) this.opaque(node, `This ${statementWords(type)} statement`);
        return {};
    }
  }

  /** Outputs sent to the client: derived values under a `refuse` policy, and masks that positions cannot carry. */
  private checkOutputs(columns: ColumnSet): void {
    if (this.policy.onDerived === 'refuse') {
      columns.known.forEach((c, i) => {
        if (c.flow?.derived === true) this.findings.add('derived', derivedRefusal(i + 1, c.name, c.flow));
      });
    }
    if (columns.unknown === undefined) return;
    // Outputs go unplanned: only RowDescription origins and content detectors remain.
    const unseen = columns.unknown.any ?? columns.known.find((c) => c.flow !== undefined && !c.hasOrigin)?.flow;
    if (unseen !== undefined) this.findings.add('unknown-outputs', unknownOutputsRefusal(columns.unknown.what, unseen));
  }

  private copy(body: PgObject): Analysed {
    if (boolField(body, 'is_from')) return {};
    const query = body['query'];
    const columns =
      query !== undefined
        ? (this.statement(query).columns ?? NO_COLUMNS)
        : this.analyzer.copiedColumns(field(body, 'relation') ?? {}, copyColumnNames(body['attlist']));
    const program = boolField(body, 'is_program');
    if (program || stringField(body, 'filename') !== undefined) {
      const flow = firstMaskedFlow(columns);
      if (flow !== undefined) {
        const [action, destination] = program
          ? ['COPY … TO PROGRAM', 'to a program on the database server']
          : ['COPY … TO a file', 'into a file on the database server'];
        this.findings.add('laundering', launderingRefusal(action, destination, flow));
      }
      return {};
    }
    const layout = copyLayout(asArray(body['options']));
    if (typeof layout === 'string') {
      this.findings.add('unanalysable', unanalysableRefusal(layout));
      return { columns };
    }
    if (layout.format === 'binary') {
      const index = columns.known.findIndex((c) => c.flow !== undefined);
      const masked = columns.known[index];
      if (masked?.flow !== undefined) this.findings.add('binary-copy', binaryCopyRefusal(index + 1, masked.name, masked.flow));
      else if (columns.unknown?.any !== undefined) {
        this.findings.add('binary-copy', unknownOutputsRefusal(columns.unknown.what, columns.unknown.any));
      }
    }
    const typeOids = columns.unknown === undefined ? columns.known.map((c) => c.typeOid) : [];
    return { columns, copy: { ...layout, typeOids } };
  }

  /** Rows stored by the statement (a new table, view, file): masked values would be stored unmasked. */
  private stored(columns: ColumnSet | undefined, action: string, destination: string): void {
    const flow = columns === undefined ? undefined : firstMaskedFlow(columns);
    if (flow !== undefined) this.findings.add('laundering', launderingRefusal(action, destination, flow));
  }

  private createTableAs(body: PgObject): void {
    const action = stringField(body, 'objtype') === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE … AS';
    const destination = `into ${relationName(field(field(body, 'into') ?? {}, 'rel'))}`;
    const query = body['query'];
    if (nodeType(query) !== 'ExecuteStmt') {
      this.stored(this.statement(query).columns, action, destination);
    } else if (this.relations.maskedNames().size > 0) {
      const why = `${action} EXECUTE stores the rows of a prepared statement the analysis cannot see`;
      this.findings.add('unanalysable', unanalysableRefusal(why));
    }
  }

  /** Values handed to code that can keep them (a prepared statement's parameters, a procedure's arguments). */
  private passedOn(args: unknown, action: string, destination: string, root: Level): void {
    for (const arg of asArray(args)) {
      const flow = this.analyzer.expr(arg, root);
      if (flow !== undefined) this.findings.add('laundering', launderingRefusal(action, destination, flow));
    }
  }

  /** PREPARE / DECLARE CURSOR: the later EXECUTE / FETCH rows cannot be paired with this query. */
  private sqlLevelQuery(query: unknown, statement: string, later: string): void {
    const columns = this.statement(query).columns;
    const flow = columns === undefined ? undefined : firstMaskedFlow(columns);
    if (flow !== undefined) this.findings.add('sql-level-query', sqlLevelQueryRefusal(statement, later, flow));
  }

  /**
   * Code or statements the analysis does not follow: refused when they mention a masked
   * column or a relation with one (as a word anywhere in the statement, bodies included).
   */
  private opaque(node: unknown, what: string): void {
    const names = this.relations.maskedNames();
    if (names.size === 0) return;
    for (const word of wordsIn(node)) {
      const mask = names.get(word);
      if (mask !== undefined) {
        this.findings.add('opaque', opaqueRefusal(what, word, mask.rule));
        return;
      }
    }
  }
}

function returnsRows(type: string, body: PgObject): boolean {
  switch (type) {
    case 'SelectStmt':
      return body['intoClause'] === undefined;
    case 'CopyStmt':
      return !boolField(body, 'is_from') && !boolField(body, 'is_program') && stringField(body, 'filename') === undefined;
    case 'FetchStmt':
      return !boolField(body, 'ismove');
    case 'VariableShowStmt':
    case 'ExplainStmt':
    case 'ExecuteStmt':
    case 'CallStmt': // OUT parameters come back as a row
      return true;
    default:
      return DML.has(type) && hasReturning(body);
  }
}

function hasReturning(body: PgObject): boolean {
  return asArray(field(body, 'returningClause')?.['exprs'] ?? body['returningList']).length > 0;
}

/** `AlterTableStmt` → `ALTER TABLE`. */
function statementWords(type: string): string {
  return type.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}

const WORD = /[\p{L}_][\p{L}\p{N}_$]*/gu;

/** Every string of the tree, whole and as words, lower-cased: identifiers, names, bodies. */
function* wordsIn(value: unknown): Generator<string> {
  if (typeof value === 'string') {
    yield value.toLowerCase();
    for (const match of value.matchAll(WORD)) yield match[0].toLowerCase();
  } else if (Array.isArray(value)) {
    for (const item of value) yield* wordsIn(item);
  } else if (isObject(value)) {
    for (const key in value) yield* wordsIn(value[key]);
  }
}
