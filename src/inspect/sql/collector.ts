import { classOfRank, classRank } from './classes.js';
import type { FunctionCall, SqlClass, SqlFlag, TableAccess } from './facts.js';

/** Flags in the order they are reported (the order of the SqlFlag union). */
export const FLAG_ORDER: readonly SqlFlag[] = [
  'update_without_where',
  'delete_without_where',
  'dynamic_sql',
  'dangerous_function',
  'parse_relevant_setting',
  'copy_server_side',
  'explain_analyze',
];

/**
 * Accumulates the facts of one statement while its tree is walked.
 *
 * Class contributions come in two kinds, kept apart so that plain EXPLAIN can discount
 * what it does not run:
 * - `kind` contributions: what statements do (a DELETE writes, SELECT INTO creates…);
 * - `risk` contributions: what is dangerous even when only planned or not understood
 *   (dangerous functions, dynamic SQL, parse-relevant settings, unknown nodes).
 */
export class FactCollector {
  private kindRank = 0;
  private riskRank = 0;
  private readonly tables = new Map<string, TableAccess>();
  private readonly functions = new Map<string, FunctionCall>();
  private readonly flags = new Set<SqlFlag>();
  private readonly notes = new Set<string>();
  preparedName: string | undefined;
  preparesName: string | undefined;
  deallocatesName: string | undefined;

  addKindClass(c: SqlClass): void {
    const r = classRank(c);
    if (r > this.kindRank) this.kindRank = r;
  }

  addRiskClass(c: SqlClass, note?: string): void {
    const r = classRank(c);
    if (r > this.riskRank) this.riskRank = r;
    if (note !== undefined) this.notes.add(note);
  }

  addTable(schema: string | undefined, name: string, access: 'read' | 'write'): void {
    const key = `${schema ?? ''}\u0000${name}\u0000${access}`;
    if (!this.tables.has(key)) this.tables.set(key, { schema, name, access });
  }

  addFunction(schema: string | undefined, name: string): void {
    const key = `${schema ?? ''}\u0000${name}`;
    if (!this.functions.has(key)) this.functions.set(key, { schema, name });
  }

  addFlag(flag: SqlFlag, note?: string): void {
    this.flags.add(flag);
    if (note !== undefined) this.notes.add(note);
  }

  addNote(note: string): void {
    this.notes.add(note);
  }

  /**
   * Merges a nested collector. With `discountWrites` (plain EXPLAIN) the nested
   * statement did not run: its tables count as reads, its kind contributions as `read`,
   * and "without WHERE" flags are dropped; risk contributions are kept.
   */
  merge(child: FactCollector, discountWrites: boolean): void {
    if (!discountWrites && child.kindRank > this.kindRank) this.kindRank = child.kindRank;
    if (child.riskRank > this.riskRank) this.riskRank = child.riskRank;
    for (const t of child.tables.values()) this.addTable(t.schema, t.name, discountWrites ? 'read' : t.access);
    for (const f of child.functions.values()) this.addFunction(f.schema, f.name);
    for (const flag of child.flags) {
      if (discountWrites && (flag === 'update_without_where' || flag === 'delete_without_where')) continue;
      this.flags.add(flag);
    }
    for (const n of child.notes) this.notes.add(n);
    if (child.preparedName !== undefined) this.preparedName ??= child.preparedName;
  }

  /** The class ignoring a prepared statement this statement executes. */
  classWithoutPrepared(): SqlClass {
    return classOfRank(Math.max(this.kindRank, this.riskRank));
  }

  result(): {
    class: SqlClass;
    classWithoutPrepared: SqlClass;
    tables: TableAccess[];
    functions: FunctionCall[];
    flags: SqlFlag[];
    notes: string[];
  } {
    const without = this.classWithoutPrepared();
    return {
      // Executing a prepared statement the inspector cannot see is unknown until the
      // session substitutes what was prepared.
      class: this.preparedName !== undefined ? 'unknown' : without,
      classWithoutPrepared: without,
      tables: [...this.tables.values()],
      functions: [...this.functions.values()],
      flags: FLAG_ORDER.filter((f) => this.flags.has(f)),
      notes: [...this.notes],
    };
  }
}
