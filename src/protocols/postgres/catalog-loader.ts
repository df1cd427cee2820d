/**
 * Loads a target's catalog snapshot for masking (src/masking/catalog.ts): every relation an
 * agent can name, with its columns and view definition, the text-like types and the
 * session user. It opens its own connection with the connection's injected credentials
 * and TLS rules (connectUpstream), asks one simple Query, and hangs up.
 */
import { Catalog, type CatalogColumn, type CatalogRelation, type RelationKind } from '../../masking/catalog.js';
import type { PostgresTarget } from '../../config/types.js';
import { serializeQuery, serializeTerminate } from './codec.js';
import { ProtocolError } from './errors.js';
import { SimpleQueryResponse } from './simple-query.js';
import { connectUpstream, UpstreamError, type UpstreamConnection, type UpstreamErrorKind } from './upstream.js';

/** The part of a configured connection the loader needs (a ConnectionConfig is one). */
export interface CatalogSource {
  readonly name: string;
  readonly target: PostgresTarget;
}

export interface CatalogLoadOptions {
  /** Largest backend message accepted: one row is a relation with its columns and view definition. */
  readonly maxFrameBytes: number;
  /** How long the catalog query may run (the connect phase has the target's connectTimeoutMs). Default 30 s. */
  readonly queryTimeoutMs?: number;
  /** A catalog with more columns than this is refused rather than held in memory. Default 2,000,000. */
  readonly maxColumns?: number;
}

export const DEFAULT_CATALOG_QUERY_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_CATALOG_COLUMNS = 2_000_000;

export type CatalogErrorKind = UpstreamErrorKind | 'query' | 'too-large' | 'closed';

/** Why a connection's catalog could not be loaded; the message names the connection and holds no secret. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  constructor(
    readonly connection: string,
    readonly kind: CatalogErrorKind,
    reason: string,
    /** SQLSTATE reported by the target, when it sent one. */
    readonly sqlState?: string,
  ) {
    super(`loading the catalog of connection "${connection}" failed: ${reason}`);
  }
}

// client_encoding: names arrive as UTF-8 whatever the database encoding.
const STARTUP_PARAMETERS = { application_name: 'portcullis-catalog', client_encoding: 'UTF8' } as const;

/** Past the server's own statement_timeout, so its error (which names the cause) normally arrives first. */
const CLIENT_TIMEOUT_GRACE_MS = 1_000;

/**
 * One round trip. SET LOCAL keeps the settings inside this transaction (safe behind a
 * transaction-pooling proxy). search_path = pg_catalog stops a user-defined operator or
 * function from shadowing the built-ins, and makes pg_get_viewdef schema-qualify every
 * relation outside pg_catalog: resolve names in a definition with an empty search path.
 * CREATE DOMAIN copies the base type's typcategory, so typcategory 'S' already covers
 * domains over text types, however deeply nested. Columns travel as JSON so that any name
 * survives unescaped (atttypid as int8: JSON renders oid as a string).
 */
function catalogQuery(statementTimeoutMs: number): string {
  return `BEGIN READ ONLY;
SET LOCAL search_path = pg_catalog;
SET LOCAL statement_timeout = ${statementTimeoutMs};
SELECT current_user::text, (SELECT string_agg(oid::text, ',') FROM pg_type WHERE typcategory = 'S');
SELECT c.oid, n.nspname, c.relname, c.relkind,
  CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END,
  (SELECT json_agg(json_build_array(a.attname, a.attnum, a.atttypid::int8) ORDER BY a.attnum)
     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f');
COMMIT;`;
}

export async function loadCatalog(connection: CatalogSource, options: CatalogLoadOptions): Promise<Catalog> {
  const timeoutMs = options.queryTimeoutMs ?? DEFAULT_CATALOG_QUERY_TIMEOUT_MS;
  // statement_timeout is an int4 of milliseconds.
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2 ** 31 - 1) {
    throw new RangeError(`queryTimeoutMs must be an integer from 1 to ${2 ** 31 - 1}, got ${timeoutMs}`);
  }
  const builder = new CatalogBuilder(connection.name, options.maxColumns ?? DEFAULT_MAX_CATALOG_COLUMNS);
  let upstream: UpstreamConnection;
  try {
    upstream = await connectUpstream(connection.target, STARTUP_PARAMETERS, options.maxFrameBytes);
  } catch (err) {
    const e = err instanceof UpstreamError ? err : new UpstreamError('unreachable', String(err));
    throw new CatalogError(connection.name, e.kind, e.message, e.sqlState);
  }
  try {
    await runQuery(upstream, catalogQuery(timeoutMs), timeoutMs + CLIENT_TIMEOUT_GRACE_MS, builder);
  } catch (err) {
    upstream.socket.destroy();
    if (err instanceof CatalogError) throw err;
    if (err instanceof ProtocolError) throw new CatalogError(connection.name, 'protocol', `the target broke the protocol: ${err.message}`);
    throw err;
  }
  hangUp(upstream);
  return builder.build();
}

/** Sends `sql` and feeds every row to `builder` until ReadyForQuery. */
function runQuery(upstream: UpstreamConnection, sql: string, timeoutMs: number, builder: CatalogBuilder): Promise<void> {
  const { socket, reader } = upstream;
  const response = new SimpleQueryResponse();
  const fail = (kind: CatalogErrorKind, reason: string, sqlState?: string): CatalogError =>
    new CatalogError(builder.connection, kind, reason, sqlState);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(fail('timeout', `the catalog query did not finish within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | null): void => {
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      socket.pause();
      if (err) reject(err);
      else resolve();
    };
    const drain = (): void => {
      for (let f = reader.next(); f; f = reader.next()) {
        const event = response.accept(f.type, f.body);
        if (event === null) continue;
        if (event.kind === 'row') {
          builder.row(event.result, event.values);
          continue;
        }
        const failure = event.failure;
        finish(failure ? fail('query', `the catalog query failed: ${failure.message}`, failure.sqlState) : null);
        return;
      }
    };
    const onData = (chunk: Buffer): void => {
      try {
        reader.push(chunk);
        drain();
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const onError = (err: Error): void => finish(fail('unreachable', `the target connection failed: ${err.message}`));
    const onClose = (): void => finish(fail('unreachable', 'the target closed the connection during the catalog query'));
    socket.on('data', onData).on('error', onError).on('close', onClose);
    socket.write(serializeQuery(sql));
    // Bytes that arrived with the startup answer are already in the reader.
    onData(Buffer.alloc(0));
    socket.resume();
  });
}

/** Polite close (Terminate), so the target logs a clean disconnect rather than an abrupt one. */
function hangUp(upstream: UpstreamConnection): void {
  const { socket } = upstream;
  // The connection is being discarded: a late reset must not become an uncaught 'error' event.
  socket.on('error', () => undefined);
  socket.end(serializeTerminate());
  socket.resume();
}

const KINDS: ReadonlyMap<string, RelationKind> = new Map([
  ['r', 'table'],
  ['p', 'partitioned-table'],
  ['v', 'view'],
  ['m', 'materialized-view'],
  ['f', 'foreign-table'],
]);

/** Turns the query's rows into a Catalog, counting columns as they arrive. */
class CatalogBuilder {
  private user: string | undefined;
  private textTypeOids = new Set<number>();
  private readonly relations: CatalogRelation[] = [];
  private columnCount = 0;

  constructor(
    readonly connection: string,
    private readonly maxColumns: number,
  ) {}

  row(result: number, values: readonly (string | null)[]): void {
    if (result === 0) this.header(values);
    else if (result === 1) this.relation(values);
    else throw new ProtocolError(`unexpected result set ${result} in the catalog answer`);
  }

  build(): Catalog {
    if (this.user === undefined) throw new CatalogError(this.connection, 'protocol', 'the target did not report the session user');
    return new Catalog(this.relations, this.user, this.textTypeOids);
  }

  private header(values: readonly (string | null)[]): void {
    const [user, oids] = values;
    if (typeof user !== 'string') throw new ProtocolError('catalog header without a user');
    this.user = user;
    this.textTypeOids = new Set(oids ? oids.split(',').map(parseOid) : []);
  }

  private relation(values: readonly (string | null)[]): void {
    const [oid, schema, name, relkind, definition, columnsJson] = values;
    if (oid == null || schema == null || name == null || relkind == null) throw new ProtocolError('incomplete catalog row');
    const kind = KINDS.get(relkind);
    if (kind === undefined) throw new ProtocolError(`unexpected relkind ${JSON.stringify(relkind)} in the catalog`);
    const columns = columnsJson == null ? [] : parseColumns(columnsJson);
    this.columnCount += columns.length;
    if (this.columnCount > this.maxColumns) {
      throw new CatalogError(this.connection, 'too-large', `the target has more than ${this.maxColumns} columns (maxColumns)`);
    }
    this.relations.push({
      oid: parseOid(oid),
      schema,
      name,
      kind,
      columns,
      ...(definition == null ? {} : { definition }),
    });
  }
}

function parseColumns(json: string): CatalogColumn[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new ProtocolError('malformed column list in the catalog');
  }
  if (!Array.isArray(parsed)) throw new ProtocolError('malformed column list in the catalog');
  return parsed.map((entry: unknown): CatalogColumn => {
    if (!Array.isArray(entry) || entry.length !== 3) throw new ProtocolError('malformed column in the catalog');
    const [name, attnum, typeOid] = entry as unknown[];
    if (typeof name !== 'string' || !Number.isSafeInteger(attnum) || !Number.isSafeInteger(typeOid)) {
      throw new ProtocolError('malformed column in the catalog');
    }
    return { name, attnum: attnum as number, typeOid: typeOid as number };
  });
}

/** OIDs are unsigned 32-bit and print as plain decimals. */
function parseOid(text: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new ProtocolError(`malformed OID ${JSON.stringify(text)} in the catalog`);
  const oid = Number(text);
  if (oid > 0xffffffff) throw new ProtocolError(`OID ${text} out of range in the catalog`);
  return oid;
}
