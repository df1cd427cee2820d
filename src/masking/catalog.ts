/**
 * What masking needs to know about the target's relations: names, column order and types,
 * and the query behind each view. A snapshot, loaded from the target's catalog by the
 * PostgreSQL front door and read here without I/O.
 */

export type RelationKind = 'table' | 'view' | 'materialized-view' | 'foreign-table' | 'partitioned-table' | 'other';

export interface CatalogColumn {
  readonly name: string;
  /** pg_attribute.attnum, as RowDescription reports it (1-based, user columns only). */
  readonly attnum: number;
  readonly typeOid: number;
}

export interface CatalogRelation {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly kind: RelationKind;
  /** In attnum order, dropped columns left out. */
  readonly columns: readonly CatalogColumn[];
  /** A view's or materialized view's query (pg_get_viewdef), for lineage through it. */
  readonly definition?: string;
}

export class Catalog {
  private readonly oids = new Map<number, CatalogRelation>();
  private readonly names = new Map<string, CatalogRelation>();

  constructor(
    readonly relations: readonly CatalogRelation[],
    /** The session user, for a `"$user"` entry in search_path. */
    readonly user: string,
    /**
     * Types whose values are text (typcategory 'S', and domains over them): besides the
     * built-in text types, extension types such as citext, whose OIDs differ per database.
     */
    readonly textTypeOids: ReadonlySet<number> = new Set(),
  ) {
    for (const r of relations) {
      this.oids.set(r.oid, r);
      this.names.set(qualifiedKey(r.schema, r.name), r);
    }
  }

  byOid(oid: number): CatalogRelation | undefined {
    return this.oids.get(oid);
  }

  /**
   * Resolves a relation name as PostgreSQL would: a qualified name exactly; an unqualified
   * one through the session's temporary schema, then pg_catalog (unless the path places
   * it), then `searchPath` in order.
   */
  resolve(schema: string | undefined, name: string, searchPath: readonly string[]): CatalogRelation | undefined {
    if (schema !== undefined) return this.names.get(qualifiedKey(schema, name));
    for (const s of this.lookupOrder(searchPath)) {
      const found = this.names.get(qualifiedKey(s, name));
      if (found !== undefined) return found;
    }
    return undefined;
  }

  private lookupOrder(searchPath: readonly string[]): string[] {
    const path = searchPath.map((s) => (s === '$user' ? this.user : s));
    const order = path.filter((s) => s.startsWith('pg_temp'));
    if (!path.includes('pg_catalog')) order.push('pg_catalog');
    for (const s of path) if (!s.startsWith('pg_temp')) order.push(s);
    return order;
  }
}

function qualifiedKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}
