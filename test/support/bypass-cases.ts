/**
 * The bypass regression suite (issue 3, item 8): SQL an agent might use to get past a
 * read-only policy, and SQL that must NOT be refused (false-positive guards), decided
 * under the example policy (`examples/portcullis.yaml`, connection `demo`, group
 * `agents`). The same table runs offline through `portcullis policy check`
 * (test/unit/policy/bypass.test.ts) and over the wire with both the simple and the
 * extended protocol (test/integration/sql-guardrails.test.ts).
 *
 * This suite only grows. A case that exposes a bug carries `bug` (and a `// BUG:`
 * comment); its tests are marked `it.fails` until the bug is fixed — then delete `bug`.
 */

export interface BypassCase {
  /** Unique; used as the test name. */
  readonly name: string;
  readonly sql: string;
  readonly expect: 'deny' | 'allow';
  /** The deciding rule or built-in guard `policy check` reports (and the wire refusal names). */
  readonly rule?: string;
  /** Idempotent SQL the superuser runs on the target (database `app`) before the suite. */
  readonly setup?: string;
  /**
   * Allowed SQL the agent runs first on the same connection (wire only), e.g. `BEGIN` or a
   * `PREPARE`. Never a transaction start for a `deny` case (the refusal would abort it).
   */
  readonly session?: string;
  /** The deciding rule on the wire when `session` changes it (e.g. a remembered PREPARE). */
  readonly wireRule?: string;
  /** Allowed by the gate, but the target itself rejects it with this SQLSTATE (never 42501). */
  readonly targetError?: string;
  /** Set while the case exposes a bug: what is wrong. Its tests are `it.fails`. */
  readonly bug?: string;
}


const nested = (open: string, inner: string, close: string, depth: number): string =>
  open.repeat(depth) + inner + close.repeat(depth);

const SEQ = `'orders_id_seq'`;

const GUARD_WORDS_SETUP = `CREATE TABLE IF NOT EXISTS guard_words ("delete" text, "drop" text, "select" int);
GRANT SELECT ON guard_words TO agent_rw;
INSERT INTO guard_words SELECT 'DELETE FROM orders', 'DROP TABLE orders', 1 WHERE NOT EXISTS (SELECT 1 FROM guard_words)`;
const DELETE_TABLE_SETUP = `CREATE TABLE IF NOT EXISTS "delete" (id int); GRANT SELECT ON "delete" TO agent_rw`;
const TABLEFUNC_SETUP = 'CREATE EXTENSION IF NOT EXISTS tablefunc';

export const BYPASS_CASES: readonly BypassCase[] = [
  // ===================================================================== the list: denied
  { name: 'multi-statement: SELECT then DELETE', sql: 'SELECT 1; DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'data-modifying CTE', sql: 'WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d', expect: 'deny', rule: 'no-writes' },
  { name: 'COPY (DELETE … RETURNING *) TO STDOUT', sql: 'COPY (DELETE FROM orders RETURNING *) TO STDOUT', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN ANALYZE DELETE', sql: 'EXPLAIN ANALYZE DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  {
    name: 'MERGE … WHEN MATCHED THEN DELETE',
    sql: 'MERGE INTO orders o USING customers c ON o.customer_id = c.id WHEN MATCHED THEN DELETE',
    expect: 'deny',
    rule: 'no-writes',
  },
  { name: 'SELECT … INTO', sql: 'SELECT * INTO orders_copy FROM orders', expect: 'deny', rule: 'no-ddl' },
  { name: 'CREATE TABLE AS', sql: 'CREATE TABLE orders_copy AS SELECT * FROM orders', expect: 'deny', rule: 'no-ddl' },
  { name: 'PREPARE of a DELETE', sql: 'PREPARE guard_del AS DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  // The PREPARE above was refused, so the gateway never learnt what guard_del is.
  { name: 'EXECUTE of the refused PREPARE', sql: 'EXECUTE guard_del', expect: 'deny', rule: 'unknown-statement' },
  { name: "DO with EXECUTE 'DELETE …'", sql: `DO $$ BEGIN EXECUTE 'DELETE FROM orders'; END $$`, expect: 'deny', rule: 'dynamic-sql' },
  { name: 'U& identifier for the table', sql: String.raw`DELETE FROM U&"\006Frders"`, expect: 'deny', rule: 'no-writes' },
  { name: 'U& identifier with UESCAPE', sql: `DELETE FROM U&"!006Frders" UESCAPE '!'`, expect: 'deny', rule: 'no-writes' },
  { name: 'dollar quote closed before a second statement', sql: 'SELECT $x$ $x$; DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  {
    name: "E'' escaped quote, then a statement a naive lexer sees as a string",
    sql: String.raw`SELECT E'\''; DELETE FROM orders; --'`,
    expect: 'deny',
    rule: 'no-writes',
  },
  { name: "set_config('role', …)", sql: `SELECT set_config('role', 'postgres', false)`, expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'pg_read_file', sql: `SELECT pg_read_file('postgresql.conf')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'COPY … FROM PROGRAM', sql: `COPY orders FROM PROGRAM 'id'`, expect: 'deny', rule: 'no-admin' },
  { name: 'ALTER SYSTEM', sql: `ALTER SYSTEM SET work_mem = '1GB'`, expect: 'deny', rule: 'no-admin' },
  { name: 'SET ROLE', sql: 'SET ROLE postgres', expect: 'deny', rule: 'parse-relevant-setting' },

  // ===================================================================== the list: allowed
  { name: 'SQL inside a string literal', sql: `SELECT 'DELETE FROM orders; DROP TABLE orders'`, expect: 'allow', rule: 'reads-ok' },
  { name: 'SQL inside a dollar quote', sql: 'SELECT $$DELETE FROM orders; DROP TABLE orders$$', expect: 'allow', rule: 'reads-ok' },
  { name: 'SQL inside a tagged dollar quote', sql: 'SELECT $x$ ; DELETE FROM orders; $x$', expect: 'allow', rule: 'reads-ok' },
  { name: 'SQL inside a block comment', sql: 'SELECT 1 /* DELETE FROM orders; */', expect: 'allow', rule: 'reads-ok' },
  {
    name: 'SQL inside a nested block comment',
    sql: 'SELECT 1 /* outer /* DELETE FROM orders; */ still a comment; DROP TABLE orders; */',
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: 'SQL inside a line comment', sql: 'SELECT 1 -- ; DELETE FROM orders', expect: 'allow', rule: 'reads-ok' },
  { name: 'plain EXPLAIN of a DELETE (not run)', sql: 'EXPLAIN DELETE FROM orders', expect: 'allow', rule: 'reads-ok' },
  { name: 'plain EXPLAIN of a SELECT', sql: 'EXPLAIN SELECT * FROM orders', expect: 'allow', rule: 'reads-ok' },
  { name: 'column alias "delete"', sql: 'SELECT 1 AS "delete"', expect: 'allow', rule: 'reads-ok' },
  {
    name: 'columns named "delete" and "drop"',
    sql: `SELECT "delete", "drop", "select" FROM guard_words WHERE "delete" = 'DELETE FROM orders'`,
    expect: 'allow',
    rule: 'reads-ok',
    setup: GUARD_WORDS_SETUP,
  },
  { name: 'table named "delete"', sql: 'SELECT * FROM "delete"', expect: 'allow', rule: 'reads-ok', setup: DELETE_TABLE_SETUP },
  {
    name: 'join that only reads',
    sql: 'SELECT o.id, c.full_name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.amount_cents > 1000',
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: 'CTE that only reads', sql: 'WITH t AS (SELECT * FROM orders) SELECT count(*) FROM t', expect: 'allow', rule: 'reads-ok' },
  {
    name: 'several CTEs that only read',
    sql: 'WITH a AS MATERIALIZED (SELECT * FROM orders), b AS (SELECT customer_id FROM a) SELECT count(*) FROM b JOIN customers c ON c.id = b.customer_id',
    expect: 'allow',
    rule: 'reads-ok',
  },

  // ===================================================================== multi-statement and lexing tricks
  { name: 'multi-statement without a space', sql: 'SELECT 1;DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'empty statements before a DELETE', sql: ';;; DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'read, COMMIT, then DELETE', sql: 'SELECT * FROM orders; COMMIT; DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'BEGIN; DELETE; COMMIT in one Query', sql: 'BEGIN; DELETE FROM orders; COMMIT', expect: 'deny', rule: 'no-writes' },
  { name: 'DDL first, then a read', sql: 'CREATE TABLE guard_t (); SELECT 1', expect: 'deny', rule: 'no-ddl' },
  { name: 'line comment ends at newline, then DELETE', sql: 'SELECT 1; -- note\nDELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'line comment ends at carriage return', sql: 'SELECT 1; -- note\rDELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  {
    // U+2028 is not a newline to PostgreSQL: the DELETE is still inside the comment.
    name: 'U+2028 does not end a line comment',
    sql: 'SELECT 1; -- note\u2028DELETE FROM orders',
    expect: 'allow',
    rule: 'reads-ok',
  },
  {
    // The comment's ';' does not end the statement: this is `SELECT 1 "delete" FROM orders`.
    name: "line comment holding ';' then DELETE on the next line is an alias",
    sql: 'SELECT 1 -- ;\nDELETE FROM orders',
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: 'form feed between statements', sql: 'SELECT 1;\fDELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'vertical tab between statements', sql: 'SELECT 1;\vDELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: "';' inside a block comment, then DELETE", sql: 'SELECT 1 /* ; */ ; DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  {
    // Comments nest: `/* /* */` is still open, so everything up to the last `*/` is comment.
    name: 'nested comment hides what a non-nesting lexer would run',
    sql: 'SELECT 1 /* /* */ ; DELETE FROM orders; -- */',
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: 'nested comment closed, then DELETE', sql: 'SELECT 1 /* /* */ */ ; DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'other dollar tag inside a dollar quote, then DELETE', sql: 'SELECT $a$ $b$ $a$; DELETE FROM orders; -- $b$', expect: 'deny', rule: 'no-writes' },
  { name: 'DELETE inside a dollar quote holding another tag', sql: 'SELECT $a$ $b$; DELETE FROM orders; $b$ $a$', expect: 'allow', rule: 'reads-ok' },
  {
    // standard_conforming_strings is on: '\' is a whole string, so the DELETE is real.
    name: "backslash does not escape in a standard string",
    sql: String.raw`SELECT '\'; DELETE FROM orders; --'`,
    expect: 'deny',
    rule: 'no-writes',
  },
  { name: "E'' escaped backslash, then DELETE", sql: String.raw`SELECT E'\\'; DELETE FROM orders; --'`, expect: 'deny', rule: 'no-writes' },
  {
    name: "E'' escaped quote keeps the DELETE inside the string",
    sql: String.raw`SELECT E'\'; DELETE FROM orders; --'`,
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: "U&'' escaped quote, then DELETE", sql: String.raw`SELECT U&'\0027'; DELETE FROM orders`, expect: 'deny', rule: 'no-writes' },
  {
    name: "U&'' escaped quote keeps the DELETE inside the string",
    sql: String.raw`SELECT U&'\0027; DELETE FROM orders; --'`,
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: "U&'' with UESCAPE, then DELETE", sql: `SELECT U&'!0027' UESCAPE '!'; DELETE FROM orders`, expect: 'deny', rule: 'no-writes' },
  { name: 'quoted identifier holding SQL', sql: 'SELECT 1 AS "; DELETE FROM orders"', expect: 'allow', rule: 'reads-ok' },
  { name: 'doubled quote in a string', sql: `SELECT 'it''s; DELETE FROM orders'`, expect: 'allow', rule: 'reads-ok' },
  { name: 'multi-byte text before a DELETE', sql: `SELECT 'é ☃ 𝄞'; DELETE FROM orders`, expect: 'deny', rule: 'no-writes' },
  { name: 'mixed-case keywords', sql: 'dElEtE fRoM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'comments instead of spaces', sql: 'DELETE/**/FROM/**/orders/**/WHERE 1=1', expect: 'deny', rule: 'no-writes' },
  { name: "E'' hex-escaped quote keeps the DELETE inside the string", sql: String.raw`SELECT E'\x27; DELETE FROM orders; --'`, expect: 'allow', rule: 'reads-ok' },
  { name: "E'' hex-escaped quote, then DELETE", sql: String.raw`SELECT E'\x27'; DELETE FROM orders`, expect: 'deny', rule: 'no-writes' },
  { name: "E'' octal-escaped quote, then DELETE", sql: String.raw`SELECT E'\047'; DELETE FROM orders`, expect: 'deny', rule: 'no-writes' },
  {
    // `E '…'` with a space is not an escape string: it is the type-cast syntax `type 'literal'`.
    name: "E followed by a space is not an escape string",
    sql: String.raw`SELECT E '\'; DELETE FROM orders; --'`,
    expect: 'deny',
    rule: 'no-writes',
  },
  { name: 'string continued on the next line holds the DELETE', sql: "SELECT 'x'\n'; DELETE FROM orders; --'", expect: 'allow', rule: 'reads-ok' },
  { name: 'string continued on the same line does not parse', sql: "SELECT 'x' '; DELETE FROM orders; --'", expect: 'deny', rule: 'unparseable-sql' },
  { name: 'non-ASCII dollar-quote tag holds the DELETE', sql: 'SELECT $é$ ; DELETE FROM orders; $é$', expect: 'allow', rule: 'reads-ok' },
  { name: 'doubled quote in a quoted identifier holds the DELETE', sql: 'SELECT 1 AS "a""; DELETE FROM orders; --"', expect: 'allow', rule: 'reads-ok' },
  {
    // `a$b$` is one identifier (`$` may continue one): no dollar quote starts here.
    name: "'$' inside an identifier does not open a dollar quote",
    sql: 'SELECT 1 AS a$b$; DELETE FROM orders; -- $b$',
    expect: 'deny',
    rule: 'no-writes',
  },
  { name: "'--' inside a block comment does not hide the rest", sql: 'SELECT 1 /* -- */; DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: "'/*' inside a line comment does not open a block comment", sql: 'SELECT 1 -- /*\n; DELETE FROM orders -- */', expect: 'deny', rule: 'no-writes' },
  { name: "'$$' inside comments does not open a dollar quote", sql: 'SELECT 1 /* $$ */; DELETE FROM orders; /* $$ */', expect: 'deny', rule: 'no-writes' },
  { name: 'quote inside a line comment does not open a string', sql: "SELECT 1 -- it's\n; DELETE FROM orders; -- '", expect: 'deny', rule: 'no-writes' },
  { name: "'/*' inside a string does not open a comment", sql: "SELECT '/*'; DELETE FROM orders; -- */'", expect: 'deny', rule: 'no-writes' },
  { name: "'--' inside a string does not start a comment", sql: "SELECT '--'; DELETE FROM orders", expect: 'deny', rule: 'no-writes' },
  { name: "'--' right after an operator starts a comment", sql: 'SELECT 1 *--x\n2; DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'psql \\; separator is not SQL', sql: 'SELECT 1 \\; DELETE FROM orders', expect: 'deny', rule: 'unparseable-sql' },
  {
    name: 'statement after 20 KiB of comment (not cached)',
    sql: `SELECT 1 /*${'x'.repeat(20_000)}*/; DELETE FROM orders`,
    expect: 'deny',
    rule: 'no-writes',
  },
  { name: 'comment-only query', sql: '-- only a comment', expect: 'allow', rule: 'empty-query' },

  // ===================================================================== names as the parser resolves them
  { name: 'quoted schema and table', sql: 'DELETE FROM "public"."orders"', expect: 'deny', rule: 'no-writes' },
  { name: 'U& identifier with a six-digit escape', sql: String.raw`DELETE FROM U&"\+00006Frders"`, expect: 'deny', rule: 'no-writes' },
  { name: 'DELETE FROM ONLY', sql: 'DELETE FROM ONLY orders', expect: 'deny', rule: 'no-writes' },
  { name: 'catalog-qualified table', sql: 'DELETE FROM app.public.orders', expect: 'deny', rule: 'no-writes' },
  { name: 'CTE named like the table it deletes from', sql: 'WITH orders AS (SELECT 1 AS id) DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'CTE named like a table, read only', sql: 'WITH orders AS (SELECT 1 AS id) SELECT * FROM orders', expect: 'allow', rule: 'reads-ok' },

  // ===================================================================== dangerous functions, however written
  { name: 'pg_read_file: quoted name in pg_catalog', sql: `SELECT pg_catalog."pg_read_file"('postgresql.conf')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: upper case', sql: `SELECT PG_CATALOG.PG_READ_FILE('postgresql.conf')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: quoted upper case', sql: `SELECT "PG_READ_FILE"('postgresql.conf')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: another schema', sql: `SELECT public.pg_read_file('postgresql.conf')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: U& identifier', sql: String.raw`SELECT U&"pg\005Fread\005Ffile"('postgresql.conf')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: in SUBSTRING … FROM … FOR', sql: `SELECT SUBSTRING(pg_read_file('postgresql.conf') FROM 1 FOR 10)`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: in TRIM(BOTH FROM …)', sql: `SELECT TRIM(BOTH FROM pg_read_file('postgresql.conf'))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: in FROM (ROWS FROM)', sql: `SELECT * FROM ROWS FROM (pg_read_file('postgresql.conf'))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: in plain EXPLAIN (still refused)', sql: `EXPLAIN SELECT pg_read_file('postgresql.conf')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: with all its arguments', sql: `SELECT pg_catalog.pg_read_file('postgresql.conf', 0, 10, true)`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_read_file: in COPY (query) TO STDOUT', sql: `COPY (SELECT pg_read_file('postgresql.conf')) TO STDOUT`, expect: 'deny', rule: 'no-dangerous-functions' },
  // These catalog views are nothing but `SELECT * FROM pg_show_all_file_settings()`,
  // `pg_hba_file_rules()` and `pg_ident_file_mappings()`, which the dangerous-function list
  // classes admin ("reads server configuration files"); through the view the inspector sees a
  // plain read of a pg_catalog relation and the example policy allows it. (Low impact: the
  // views are superuser-only by default, so here the target itself refuses them.)
  {
    name: 'pg_file_settings view (pg_show_all_file_settings)',
    sql: 'SELECT * FROM pg_file_settings',
    expect: 'deny',
    rule: 'no-dangerous-functions',
  },
  {
    name: 'pg_hba_file_rules view',
    sql: 'SELECT * FROM pg_hba_file_rules',
    expect: 'deny',
    rule: 'no-dangerous-functions',
  },
  {
    name: 'pg_ident_file_mappings view',
    sql: 'SELECT * FROM pg_catalog.pg_ident_file_mappings',
    expect: 'deny',
    rule: 'no-dangerous-functions',
  },
  { name: 'pg_read_binary_file', sql: `SELECT pg_read_binary_file('postgresql.conf')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_ls_dir', sql: `SELECT pg_ls_dir('.')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_stat_file', sql: `SELECT pg_stat_file('postgresql.conf')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'lo_import', sql: `SELECT lo_import('/etc/passwd')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'lo_export', sql: `SELECT lo_export(16384, '/tmp/guard')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'lo_creat', sql: 'SELECT lo_creat(-1)', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'lo_from_bytea', sql: `SELECT lo_from_bytea(0, 'x')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'loread(lo_open(…))', sql: 'SELECT loread(lo_open(1, 262144), 10)', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'lo_unlink', sql: 'SELECT lo_unlink(1)', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'dblink', sql: `SELECT dblink('dbname=app', 'DELETE FROM orders')`, expect: 'deny', rule: 'dynamic-sql' },
  { name: 'dblink in FROM', sql: `SELECT * FROM dblink('dbname=app', 'DELETE FROM orders RETURNING id') AS t(id int)`, expect: 'deny', rule: 'dynamic-sql' },
  { name: "query_to_xml('DELETE …')", sql: `SELECT query_to_xml('DELETE FROM orders RETURNING *', true, false, '')`, expect: 'deny', rule: 'dynamic-sql' },
  {
    name: 'query_to_xml inside XMLTABLE',
    sql: `SELECT * FROM XMLTABLE('/x' PASSING query_to_xml('SELECT 1', true, false, '') COLUMNS a int)`,
    expect: 'deny',
    rule: 'dynamic-sql',
  },
  { name: 'ts_stat (runs a query string)', sql: `SELECT ts_stat('SELECT to_tsvector(status) FROM orders')`, expect: 'deny', rule: 'dynamic-sql' },
  { name: 'table_to_xml', sql: `SELECT table_to_xml('orders', true, false, '')`, expect: 'deny', rule: 'no-dangerous-functions' },
  {
    // tablefunc's crosstab() runs its text argument as SQL (SPI), uninspected: the
    // nextval inside it runs and the example policy allows the call as a plain read.
    // crosstab, crosstab2/3/4, crosstab(text, text) and connectby (tablefunc), and
    // xpath_table (xml2) belong in the dangerous-function list with dynamicSql, like dblink.
    name: 'crosstab runs its SQL text (tablefunc)',
    sql: `SELECT * FROM crosstab($$SELECT 'r'::text, 'c'::text, nextval('orders_id_seq')::text$$) AS t(row_name text, c text)`,
    expect: 'deny',
    setup: TABLEFUNC_SETUP,
    rule: 'dynamic-sql',
  },
  {
    // connectby() pastes its relname argument into SQL it runs (SPI): any subquery runs.
    name: 'connectby runs SQL spliced from its arguments (tablefunc)',
    sql: `SELECT * FROM connectby('(SELECT nextval(''orders_id_seq'')::int AS id, 1 AS parent) s', 'id', 'parent', '1', 0) AS t(id int, parent int, level int)`,
    expect: 'deny',
    setup: TABLEFUNC_SETUP,
    rule: 'dynamic-sql',
  },
  { name: 'nextval', sql: `SELECT nextval(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'setval', sql: `SELECT setval(${SEQ}, 1)`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: quoted name', sql: `SELECT "nextval"(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: quoted upper case', sql: `SELECT "NEXTVAL"(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: U& identifier', sql: String.raw`SELECT U&"\006Eextval"('orders_id_seq')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: U& identifier with UESCAPE', sql: `SELECT U&"!006Eextval" UESCAPE '!' (${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: spaces and comments around the dot', sql: `SELECT pg_catalog /**/ . nextval ( ${SEQ} )`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: quoted schema and name', sql: `SELECT "pg_catalog"."nextval"(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: catalog-qualified', sql: `SELECT app.pg_catalog.nextval(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: named argument', sql: `SELECT nextval(regclass => ${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a cast', sql: `SELECT CAST(nextval(${SEQ}) AS text)`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a :: cast', sql: `SELECT nextval(${SEQ})::text`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in CASE', sql: `SELECT CASE WHEN true THEN nextval(${SEQ}) END`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in COALESCE', sql: `SELECT COALESCE(nextval(${SEQ}), 0)`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in GREATEST', sql: `SELECT GREATEST(nextval(${SEQ}), 1)`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in NULLIF', sql: `SELECT NULLIF(nextval(${SEQ}), 1)`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in ARRAY[]', sql: `SELECT ARRAY[nextval(${SEQ})]`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in ROW()', sql: `SELECT ROW(nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in = ANY(ARRAY[])', sql: `SELECT 1 = ANY(ARRAY[nextval(${SEQ})])`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in an IN list', sql: `SELECT * FROM orders WHERE id IN (1, nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a row IN', sql: `SELECT (1, nextval(${SEQ})) IN ((1, 2))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in an EXISTS subquery', sql: `SELECT 1 WHERE EXISTS (SELECT nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in IN (subquery)', sql: `SELECT 1 IN (SELECT nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in FROM', sql: `SELECT * FROM nextval(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: LATERAL in FROM', sql: `SELECT * FROM orders, LATERAL nextval(${SEQ}) n LIMIT 1`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in ROWS FROM with another function', sql: `SELECT * FROM ROWS FROM (generate_series(1, 2), nextval(${SEQ})) t`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in VALUES', sql: `VALUES (nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in ORDER BY', sql: `SELECT * FROM orders ORDER BY nextval(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in LIMIT', sql: `SELECT * FROM orders LIMIT nextval(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in TABLESAMPLE', sql: `SELECT * FROM orders TABLESAMPLE SYSTEM (nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in an aggregate FILTER', sql: `SELECT count(*) FILTER (WHERE nextval(${SEQ}) > 0) FROM orders`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in an aggregate ORDER BY', sql: `SELECT string_agg(status, ',' ORDER BY nextval(${SEQ})) FROM orders`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a window ORDER BY', sql: `SELECT sum(id) OVER (ORDER BY nextval(${SEQ})) FROM orders`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a WINDOW clause', sql: `SELECT sum(id) OVER w FROM orders WINDOW w AS (ORDER BY nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in GROUPING SETS', sql: `SELECT count(*) FROM orders GROUP BY GROUPING SETS ((nextval(${SEQ})))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in HAVING', sql: `SELECT 1 FROM orders HAVING nextval(${SEQ}) > 0`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in DISTINCT ON', sql: `SELECT DISTINCT ON (nextval(${SEQ})) id FROM orders`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a JOIN condition', sql: `SELECT 1 FROM orders JOIN customers ON nextval(${SEQ}) > 0`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a UNION arm', sql: `SELECT 1 UNION SELECT nextval(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in XMLELEMENT', sql: `SELECT XMLELEMENT(name x, nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in JSON_OBJECT', sql: `SELECT JSON_OBJECT('a': nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in JSON_ARRAY', sql: `SELECT JSON_ARRAY(nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  {
    name: 'nextval: in JSON_TABLE PASSING',
    sql: `SELECT * FROM JSON_TABLE(jsonb '[1]', '$[*]' PASSING nextval(${SEQ}) AS x COLUMNS (a int PATH '$'))`,
    expect: 'deny',
    rule: 'no-dangerous-functions',
  },
  { name: 'nextval: in a JSON_VALUE DEFAULT', sql: `SELECT JSON_VALUE(jsonb '{}', '$.a' DEFAULT nextval(${SEQ}) ON EMPTY)`, expect: 'deny', rule: 'no-dangerous-functions' },
  {
    name: 'nextval: in a JSON_TABLE column DEFAULT',
    sql: `SELECT * FROM JSON_TABLE(jsonb '[{}]', '$[*]' COLUMNS (a int PATH '$.a' DEFAULT nextval(${SEQ}) ON EMPTY))`,
    expect: 'deny',
    rule: 'no-dangerous-functions',
  },
  { name: 'nextval: in GROUP BY CUBE', sql: `SELECT count(*) FROM orders GROUP BY CUBE (nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in BETWEEN SYMMETRIC', sql: `SELECT 1 BETWEEN SYMMETRIC nextval(${SEQ}) AND 2`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in XMLFOREST', sql: `SELECT XMLFOREST(nextval(${SEQ}) AS x)`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in ARRAY(subquery)', sql: `SELECT ARRAY(SELECT nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a type modifier', sql: `SELECT 1::numeric(nextval(${SEQ}))`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in COPY (query) TO STDOUT', sql: `COPY (SELECT nextval(${SEQ})) TO STDOUT`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a cursor', sql: `DECLARE guard_c CURSOR WITH HOLD FOR SELECT nextval(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'nextval: in a PREPARE', sql: `PREPARE guard_nv AS SELECT nextval(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  {
    name: 'nextval: as the parameter of an allowed prepared statement',
    sql: `EXECUTE guard_param(nextval(${SEQ}))`,
    session: 'PREPARE guard_param(bigint) AS SELECT $1',
    expect: 'deny',
    // Offline the name is unknown; on the wire the PREPARE was remembered and the parameter decides.
    rule: 'unknown-statement',
    wireRule: 'no-dangerous-functions',
  },
  {
    // EXPLAIN without ANALYZE still evaluates EXECUTE's parameters.
    name: 'nextval: as a parameter under plain EXPLAIN EXECUTE',
    sql: `EXPLAIN EXECUTE guard_param(nextval(${SEQ}))`,
    session: 'PREPARE guard_param(bigint) AS SELECT $1',
    expect: 'deny',
    rule: 'unknown-statement',
    wireRule: 'no-dangerous-functions',
  },
  {
    name: 'nextval: as a parameter under EXPLAIN ANALYZE EXECUTE',
    sql: `EXPLAIN (ANALYZE) EXECUTE guard_param(nextval(${SEQ}))`,
    session: 'PREPARE guard_param(bigint) AS SELECT $1',
    expect: 'deny',
    rule: 'unknown-statement',
    wireRule: 'no-dangerous-functions',
  },
  {
    // Attribute notation calls fn(o) when fn is a function; a dangerous name in that
    // position is refused whether or not this particular call would resolve.
    name: 'attribute notation o.nextval is judged as a call',
    sql: 'SELECT o.nextval FROM orders o',
    expect: 'deny',
    rule: 'no-dangerous-functions',
  },
  { name: 'pg_terminate_backend(own pid)', sql: 'SELECT pg_terminate_backend(pg_backend_pid())', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_cancel_backend', sql: 'SELECT pg_cancel_backend(pg_backend_pid())', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_reload_conf', sql: 'SELECT pg_reload_conf()', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_stat_reset', sql: 'SELECT pg_stat_reset()', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_switch_wal', sql: 'SELECT pg_switch_wal()', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_create_restore_point', sql: `SELECT pg_create_restore_point('guard')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_logical_emit_message', sql: `SELECT pg_logical_emit_message(true, 'guard', 'x')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'txid_current (assigns an xid)', sql: 'SELECT txid_current()', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_advisory_lock', sql: 'SELECT pg_advisory_lock(1)', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_advisory_xact_lock', sql: 'SELECT pg_advisory_xact_lock(1)', expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'pg_notify', sql: `SELECT pg_notify('guard', 'x')`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'set_config of an ordinary setting', sql: `SELECT set_config('work_mem', '64MB', false)`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'set_config search_path', sql: `SELECT set_config('search_path', '', true)`, expect: 'deny', rule: 'parse-relevant-setting' },
  {
    name: 'set_config role with named arguments',
    sql: `SELECT set_config(setting_name => 'role', new_value => 'postgres', is_local => false)`,
    expect: 'deny',
    rule: 'parse-relevant-setting',
  },
  { name: 'set_config with a computed setting name', sql: `SELECT set_config('ro' || 'le', 'postgres', false)`, expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'set_config client_encoding', sql: `SELECT set_config('client_encoding', 'SJIS', false)`, expect: 'deny', rule: 'parse-relevant-setting' },
  {
    name: 'UPDATE pg_settings (SET by another name)',
    sql: `UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'`,
    expect: 'deny',
    rule: 'parse-relevant-setting',
  },
  { name: 'dangerous function name only in a string', sql: `SELECT 'pg_read_file(''/etc/passwd'')', 'nextval'`, expect: 'allow', rule: 'reads-ok' },
  { name: 'column alias named like a dangerous function', sql: 'SELECT 1 AS nextval, 2 AS pg_read_file', expect: 'allow', rule: 'reads-ok' },
  { name: 'looking up a dangerous function in the catalog', sql: `SELECT proname FROM pg_proc WHERE proname = 'pg_read_file'`, expect: 'allow', rule: 'reads-ok' },
  { name: 'current_setting is a read', sql: `SELECT current_setting('role'), current_setting('search_path')`, expect: 'allow', rule: 'reads-ok' },
  { name: 'pg_sleep is a read', sql: 'SELECT pg_sleep(0)', expect: 'allow', rule: 'reads-ok' },

  // ===================================================================== writes in every disguise
  { name: 'SELECT … FOR UPDATE', sql: 'SELECT * FROM orders FOR UPDATE', expect: 'deny', rule: 'no-writes' },
  { name: 'SELECT … FOR SHARE', sql: 'SELECT * FROM orders FOR SHARE', expect: 'deny', rule: 'no-writes' },
  { name: 'SELECT … FOR NO KEY UPDATE SKIP LOCKED', sql: 'SELECT * FROM orders FOR NO KEY UPDATE SKIP LOCKED', expect: 'deny', rule: 'no-writes' },
  { name: 'SELECT … FOR KEY SHARE NOWAIT', sql: 'SELECT * FROM orders FOR KEY SHARE NOWAIT', expect: 'deny', rule: 'no-writes' },
  { name: 'TABLE … FOR UPDATE', sql: 'TABLE orders FOR UPDATE', expect: 'deny', rule: 'no-writes' },
  { name: 'FOR UPDATE in a subquery', sql: 'SELECT * FROM (SELECT * FROM orders FOR UPDATE) s', expect: 'deny', rule: 'no-writes' },
  { name: 'FOR UPDATE in a CTE', sql: 'WITH x AS (SELECT * FROM orders FOR UPDATE) SELECT * FROM x', expect: 'deny', rule: 'no-writes' },
  { name: 'FOR UPDATE in a cursor', sql: 'DECLARE guard_c CURSOR WITH HOLD FOR SELECT * FROM orders FOR UPDATE', expect: 'deny', rule: 'no-writes' },
  { name: 'TRUNCATE', sql: 'TRUNCATE orders', expect: 'deny', rule: 'no-writes' },
  { name: 'TRUNCATE ONLY … CASCADE', sql: 'TRUNCATE TABLE ONLY orders CASCADE', expect: 'deny', rule: 'no-writes' },
  { name: 'CALL', sql: 'CALL guard_proc()', expect: 'deny', rule: 'no-writes' },
  { name: 'LOCK', sql: 'LOCK TABLE orders', expect: 'deny', rule: 'no-writes' },
  { name: 'LOCK IN ACCESS SHARE MODE', sql: 'LOCK orders IN ACCESS SHARE MODE', expect: 'deny', rule: 'no-writes' },
  { name: 'INSERT … SELECT', sql: 'INSERT INTO orders (amount_cents) SELECT amount_cents FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'INSERT … DEFAULT VALUES RETURNING', sql: 'INSERT INTO orders DEFAULT VALUES RETURNING id', expect: 'deny', rule: 'no-writes' },
  { name: 'INSERT … ON CONFLICT DO UPDATE', sql: `INSERT INTO orders (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET status = 'x'`, expect: 'deny', rule: 'no-writes' },
  {
    name: 'UPDATE … FROM',
    sql: `UPDATE orders SET status = 'x' FROM customers WHERE customers.id = orders.customer_id`,
    expect: 'deny',
    rule: 'no-writes',
  },
  { name: 'DELETE … WHERE CURRENT OF', sql: 'DELETE FROM orders WHERE CURRENT OF guard_c', expect: 'deny', rule: 'no-writes' },
  { name: 'MERGE … WHEN NOT MATCHED THEN INSERT', sql: 'MERGE INTO orders o USING customers c ON o.id = c.id WHEN NOT MATCHED THEN INSERT (customer_id) VALUES (c.id)', expect: 'deny', rule: 'no-writes' },
  {
    name: 'MERGE … RETURNING in a CTE',
    sql: 'WITH m AS (MERGE INTO orders o USING customers c ON false WHEN NOT MATCHED THEN DO NOTHING RETURNING *) SELECT * FROM m',
    expect: 'deny',
    rule: 'no-writes',
  },
  { name: 'data-modifying CTE nested in a CTE', sql: 'WITH a AS (WITH b AS (DELETE FROM orders RETURNING *) SELECT * FROM b) SELECT * FROM a', expect: 'deny', rule: 'no-writes' },
  { name: 'data-modifying CTE in a scalar subquery', sql: 'SELECT (WITH d AS (DELETE FROM orders RETURNING 1) SELECT 1)', expect: 'deny', rule: 'no-writes' },
  { name: 'read CTE in front of a DELETE', sql: 'WITH x AS (SELECT 1) DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'COPY (INSERT … RETURNING) TO STDOUT', sql: 'COPY (INSERT INTO orders DEFAULT VALUES RETURNING *) TO STDOUT', expect: 'deny', rule: 'no-writes' },
  { name: 'COPY (UPDATE … RETURNING) TO STDOUT', sql: 'COPY (UPDATE orders SET status = status RETURNING *) TO STDOUT', expect: 'deny', rule: 'no-writes' },
  { name: 'COPY FROM STDIN', sql: 'COPY orders FROM STDIN', expect: 'deny', rule: 'no-writes' },
  { name: 'COPY FROM STDIN WHERE', sql: 'COPY orders FROM STDIN WHERE id > 0', expect: 'deny', rule: 'no-writes' },
  { name: 'REFRESH MATERIALIZED VIEW', sql: 'REFRESH MATERIALIZED VIEW guard_mv', expect: 'deny', rule: 'no-writes' },

  // ===================================================================== EXPLAIN: runs only with ANALYZE
  { name: 'EXPLAIN (ANALYZE) DELETE', sql: 'EXPLAIN (ANALYZE) DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN ANALYSE (British) DELETE', sql: 'EXPLAIN ANALYSE DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN (ANALYSE) DELETE', sql: 'EXPLAIN (ANALYSE) DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN ("analyze") DELETE', sql: 'EXPLAIN ("analyze") DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN (ANALYZE 1) DELETE', sql: 'EXPLAIN (ANALYZE 1) DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: "EXPLAIN (ANALYZE 'on') DELETE", sql: `EXPLAIN (ANALYZE 'on') DELETE FROM orders`, expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN (ANALYZE on, FORMAT json) DELETE', sql: 'EXPLAIN (ANALYZE on, FORMAT json) DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN (ANALYZE false, ANALYZE true) DELETE', sql: 'EXPLAIN (ANALYZE false, ANALYZE true) DELETE FROM orders', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN ANALYZE INSERT', sql: 'EXPLAIN ANALYZE INSERT INTO orders DEFAULT VALUES', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN ANALYZE of a data-modifying CTE', sql: 'EXPLAIN ANALYZE WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN ANALYZE SELECT … FOR UPDATE', sql: 'EXPLAIN ANALYZE SELECT * FROM orders FOR UPDATE', expect: 'deny', rule: 'no-writes' },
  { name: 'EXPLAIN ANALYZE nextval', sql: `EXPLAIN ANALYZE SELECT nextval(${SEQ})`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'EXPLAIN ANALYZE CREATE TABLE AS', sql: 'EXPLAIN ANALYZE CREATE TABLE guard_x AS SELECT 1', expect: 'deny', rule: 'no-ddl' },
  { name: 'plain EXPLAIN EXECUTE of an unknown statement', sql: 'EXPLAIN EXECUTE guard_nosuch', expect: 'deny', rule: 'unknown-statement' },
  { name: 'EXPLAIN ANALYZE EXECUTE of an unknown statement', sql: 'EXPLAIN ANALYZE EXECUTE guard_del', expect: 'deny', rule: 'unknown-statement' },
  // Plain EXPLAIN does not run what it explains: allowed, and the integration suite proves nothing changed.
  { name: 'EXPLAIN (ANALYZE false) DELETE (not run)', sql: 'EXPLAIN (ANALYZE false) DELETE FROM orders', expect: 'allow', rule: 'reads-ok' },
  { name: "EXPLAIN (ANALYZE 'off') DELETE (not run)", sql: `EXPLAIN (ANALYZE 'off') DELETE FROM orders`, expect: 'allow', rule: 'reads-ok' },
  { name: 'EXPLAIN (ANALYZE 0, COSTS off) DELETE (not run)', sql: 'EXPLAIN (ANALYZE 0, COSTS off) DELETE FROM orders', expect: 'allow', rule: 'reads-ok' },
  { name: 'EXPLAIN CREATE TABLE AS (not run)', sql: 'EXPLAIN CREATE TABLE guard_x AS SELECT 1', expect: 'allow', rule: 'reads-ok' },
  { name: 'EXPLAIN SELECT … FOR UPDATE (not run)', sql: 'EXPLAIN SELECT * FROM orders FOR UPDATE', expect: 'allow', rule: 'reads-ok' },
  {
    // PostgreSQL's own boolean parsing for EXPLAIN options is stricter than the inspector's:
    // 'f' is an error there, so nothing runs either way.
    name: "EXPLAIN (ANALYZE 'f') DELETE is rejected by the server",
    sql: `EXPLAIN (ANALYZE 'f') DELETE FROM orders`,
    expect: 'allow',
    rule: 'reads-ok',
    targetError: '42601',
  },
  { name: 'EXPLAIN (ANALYZE) of a read', sql: 'EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM orders', expect: 'allow', rule: 'reads-ok' },
  { name: 'EXPLAIN (FORMAT JSON, VERBOSE) of a read', sql: 'EXPLAIN (FORMAT JSON, VERBOSE) SELECT * FROM orders JOIN customers ON customers.id = orders.customer_id', expect: 'allow', rule: 'reads-ok' },

  // ===================================================================== DDL
  { name: 'CREATE TEMP TABLE', sql: 'CREATE TEMP TABLE guard_t (x int)', expect: 'deny', rule: 'no-ddl' },
  { name: 'CREATE TEMP TABLE AS', sql: 'CREATE TEMP TABLE guard_t AS SELECT 1', expect: 'deny', rule: 'no-ddl' },
  { name: 'SELECT … INTO TEMP', sql: 'SELECT * INTO TEMP guard_t FROM orders', expect: 'deny', rule: 'no-ddl' },
  { name: 'SELECT … INTO in a UNION arm', sql: 'SELECT 1 AS x INTO guard_t UNION SELECT 2', expect: 'deny', rule: 'no-ddl' },
  { name: 'CREATE MATERIALIZED VIEW', sql: 'CREATE MATERIALIZED VIEW guard_mv AS SELECT 1', expect: 'deny', rule: 'no-ddl' },
  { name: 'CREATE VIEW', sql: 'CREATE VIEW guard_v AS SELECT 1', expect: 'deny', rule: 'no-ddl' },
  { name: 'CREATE TABLE AS EXECUTE', sql: 'CREATE TABLE guard_t AS EXECUTE guard_del', expect: 'deny', rule: 'unknown-statement' },
  { name: 'CREATE RULE', sql: 'CREATE RULE guard_r AS ON SELECT TO orders DO INSTEAD NOTHING', expect: 'deny', rule: 'no-ddl' },
  { name: "CREATE FUNCTION … LANGUAGE sql AS 'DELETE …'", sql: `CREATE FUNCTION guard_f() RETURNS void LANGUAGE sql AS 'DELETE FROM orders'`, expect: 'deny', rule: 'no-ddl' },
  {
    name: 'CREATE FUNCTION … BEGIN ATOMIC',
    sql: 'CREATE FUNCTION guard_f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM orders; END',
    expect: 'deny',
    rule: 'no-ddl',
  },
  { name: 'CREATE TEMP VIEW', sql: 'CREATE TEMP VIEW guard_v AS SELECT 1', expect: 'deny', rule: 'no-ddl' },
  { name: 'CREATE SCHEMA with a table in it', sql: 'CREATE SCHEMA guard CREATE TABLE t (x int)', expect: 'deny', rule: 'no-ddl' },
  { name: 'ALTER SEQUENCE … RESTART', sql: 'ALTER SEQUENCE orders_id_seq RESTART', expect: 'deny', rule: 'no-ddl' },
  { name: 'ALTER TABLE', sql: 'ALTER TABLE orders ADD COLUMN guard int', expect: 'deny', rule: 'no-ddl' },
  { name: 'CREATE TRIGGER', sql: 'CREATE TRIGGER guard_t AFTER INSERT ON orders EXECUTE FUNCTION guard_f()', expect: 'deny', rule: 'no-ddl' },
  { name: 'DROP TABLE', sql: 'DROP TABLE orders', expect: 'deny', rule: 'no-ddl' },
  { name: 'GRANT', sql: 'GRANT ALL ON orders TO PUBLIC', expect: 'deny', rule: 'no-ddl' },
  { name: 'COMMENT ON', sql: `COMMENT ON TABLE orders IS 'x'`, expect: 'deny', rule: 'no-ddl' },
  { name: 'SECURITY LABEL', sql: `SECURITY LABEL ON TABLE orders IS 'x'`, expect: 'deny', rule: 'no-ddl' },

  // ===================================================================== admin
  { name: 'COPY (query) … TO PROGRAM', sql: `COPY (SELECT * FROM orders) TO PROGRAM 'cat'`, expect: 'deny', rule: 'no-admin' },
  { name: 'COPY FROM STDIN with options', sql: 'COPY orders FROM STDIN (FORMAT csv)', expect: 'deny', rule: 'no-writes' },
  { name: 'COPY … TO a server file', sql: `COPY orders TO '/tmp/portcullis-guard'`, expect: 'deny', rule: 'no-admin' },
  { name: 'COPY … FROM a server file', sql: `COPY orders FROM '/etc/passwd'`, expect: 'deny', rule: 'no-admin' },
  { name: 'COPY … TO PROGRAM', sql: `COPY orders TO PROGRAM 'cat > /tmp/portcullis-guard'`, expect: 'deny', rule: 'no-admin' },
  { name: 'ALTER SYSTEM RESET ALL', sql: 'ALTER SYSTEM RESET ALL', expect: 'deny', rule: 'no-admin' },
  { name: 'CREATE ROLE', sql: 'CREATE ROLE guard_role', expect: 'deny', rule: 'no-admin' },
  { name: 'CREATE EXTENSION', sql: 'CREATE EXTENSION dblink', expect: 'deny', rule: 'no-admin' },
  { name: 'VACUUM FULL', sql: 'VACUUM FULL orders', expect: 'deny', rule: 'no-admin' },
  { name: 'ANALYZE', sql: 'ANALYZE orders', expect: 'deny', rule: 'no-admin' },
  { name: 'CLUSTER', sql: 'CLUSTER orders', expect: 'deny', rule: 'no-admin' },
  { name: 'REINDEX', sql: 'REINDEX TABLE orders', expect: 'deny', rule: 'no-admin' },
  { name: 'CHECKPOINT', sql: 'CHECKPOINT', expect: 'deny', rule: 'no-admin' },
  { name: 'LOAD', sql: `LOAD 'guard'`, expect: 'deny', rule: 'no-admin' },
  { name: 'REASSIGN OWNED', sql: 'REASSIGN OWNED BY agent_rw TO postgres', expect: 'deny', rule: 'no-admin' },
  { name: 'PREPARE TRANSACTION', sql: `PREPARE TRANSACTION 'guard'`, expect: 'deny', rule: 'no-admin' },
  { name: 'COMMIT PREPARED', sql: `COMMIT PREPARED 'guard'`, expect: 'deny', rule: 'no-admin' },
  { name: 'SET session_replication_role', sql: 'SET session_replication_role = replica', expect: 'deny', rule: 'no-admin' },
  { name: 'ALTER ROLE … SET role', sql: `ALTER ROLE agent_rw SET role = 'postgres'`, expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'ALTER DATABASE … SET search_path', sql: 'ALTER DATABASE app SET search_path = guard, public', expect: 'deny', rule: 'parse-relevant-setting' },

  // ===================================================================== settings that change parsing or identity
  { name: 'SET SESSION AUTHORIZATION', sql: 'SET SESSION AUTHORIZATION postgres', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET SESSION AUTHORIZATION DEFAULT', sql: 'SET SESSION AUTHORIZATION DEFAULT', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'RESET SESSION AUTHORIZATION', sql: 'RESET SESSION AUTHORIZATION', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET "role" (quoted)', sql: 'SET "role" = postgres', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET LOCAL role', sql: 'SET LOCAL role postgres', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET ROLE NONE', sql: 'SET ROLE NONE', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'RESET ROLE', sql: 'RESET ROLE', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET search_path', sql: 'SET search_path = guard, public', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET LOCAL search_path', sql: 'SET LOCAL search_path = pg_temp', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'RESET search_path', sql: 'RESET search_path', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'RESET ALL', sql: 'RESET ALL', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'DISCARD ALL', sql: 'DISCARD ALL', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET standard_conforming_strings = off', sql: 'SET standard_conforming_strings = off', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET backslash_quote', sql: 'SET backslash_quote = on', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: "SET client_encoding = 'SJIS'", sql: `SET client_encoding = 'SJIS'`, expect: 'deny', rule: 'parse-relevant-setting' },
  { name: "SET NAMES 'SJIS'", sql: `SET NAMES 'SJIS'`, expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET client_encoding TO DEFAULT', sql: 'SET client_encoding TO DEFAULT', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'RESET client_encoding', sql: 'RESET client_encoding', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'SET in a DO block', sql: 'DO $$ BEGIN SET LOCAL standard_conforming_strings = off; END $$', expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'RESET ALL in a DO block', sql: 'DO $$ BEGIN RESET ALL; END $$', expect: 'deny', rule: 'parse-relevant-setting' },

  // ===================================================================== session state (the example policy freezes it)
  { name: 'SET work_mem', sql: `SET work_mem = '64MB'`, expect: 'deny', rule: 'no-session-changes' },
  { name: "SET client_encoding = 'UTF8'", sql: `SET client_encoding = 'UTF8'`, expect: 'deny', rule: 'no-session-changes' },
  { name: 'SET default_transaction_read_only', sql: 'SET default_transaction_read_only = off', expect: 'deny', rule: 'no-session-changes' },
  { name: 'SET SESSION CHARACTERISTICS', sql: 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', expect: 'deny', rule: 'no-session-changes' },
  { name: 'DISCARD PLANS', sql: 'DISCARD PLANS', expect: 'deny', rule: 'no-session-changes' },
  { name: 'DISCARD TEMP', sql: 'DISCARD TEMP', expect: 'deny', rule: 'no-session-changes' },
  { name: 'NOTIFY', sql: 'NOTIFY guard', expect: 'deny', rule: 'no-session-changes' },
  { name: 'LISTEN', sql: 'LISTEN guard', expect: 'deny', rule: 'no-session-changes' },
  { name: 'UNLISTEN', sql: 'UNLISTEN *', expect: 'deny', rule: 'no-session-changes' },
  { name: 'LISTEN in a DO block', sql: 'DO $$ BEGIN LISTEN guard; END $$', expect: 'deny', rule: 'no-session-changes' },
  { name: 'SET TRANSACTION SNAPSHOT', sql: `SET TRANSACTION SNAPSHOT '00000003-0000001B-1'`, expect: 'deny', rule: 'no-session-changes' },
  { name: 'NOTIFY in a DO block', sql: 'DO $$ BEGIN NOTIFY guard; END $$', expect: 'deny', rule: 'no-session-changes' },

  // ===================================================================== DO blocks (PL/pgSQL is parsed too)
  { name: 'DO with a static DELETE', sql: 'DO $$ BEGIN DELETE FROM orders; END $$', expect: 'deny', rule: 'no-writes' },
  { name: 'DO with LANGUAGE before the body', sql: 'DO LANGUAGE plpgsql $$ BEGIN DELETE FROM orders; END $$', expect: 'deny', rule: 'no-writes' },
  { name: 'DO with a single-quoted body', sql: `DO 'BEGIN DELETE FROM orders; END'`, expect: 'deny', rule: 'no-writes' },
  { name: "DO with an E'' body", sql: `DO E'BEGIN DELETE FROM orders; END'`, expect: 'deny', rule: 'no-writes' },
  { name: 'DO with $$ inside a comment of a tagged body', sql: 'DO $body$ BEGIN /* $$ */ DELETE FROM orders; END $body$', expect: 'deny', rule: 'no-writes' },
  { name: 'DO nested in a DO', sql: 'DO $$ BEGIN DO $x$ BEGIN DELETE FROM orders; END $x$; END $$', expect: 'deny', rule: 'no-writes' },
  { name: 'DO with EXECUTE format()', sql: `DO $$ BEGIN EXECUTE format('DELETE FROM %I', 'orders'); END $$`, expect: 'deny', rule: 'dynamic-sql' },
  { name: 'DO with FOR … IN EXECUTE', sql: `DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP; END $$`, expect: 'deny', rule: 'dynamic-sql' },
  { name: 'DO with OPEN … FOR EXECUTE', sql: `DO $$ DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'SELECT 1'; END $$`, expect: 'deny', rule: 'dynamic-sql' },
  { name: 'DO in another language', sql: 'DO LANGUAGE sql $$ DELETE FROM orders $$', expect: 'deny', rule: 'dynamic-sql' },
  { name: 'DO with PERFORM nextval', sql: `DO $$ BEGIN PERFORM nextval(${SEQ}); END $$`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'DO with nextval in a variable default', sql: `DO $$ DECLARE x bigint := nextval(${SEQ}); BEGIN END $$`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'DO with nextval in an IF condition', sql: `DO $$ BEGIN IF nextval(${SEQ}) > 0 THEN NULL; END IF; END $$`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'DO with nextval in RAISE', sql: `DO $$ BEGIN RAISE NOTICE '%', nextval(${SEQ}); END $$`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'DO with nextval in ASSERT', sql: `DO $$ BEGIN ASSERT nextval(${SEQ}) > 0; END $$`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'DO with nextval in an array subscript', sql: `DO $$ DECLARE a int[] := ARRAY[1]; BEGIN a[nextval(${SEQ})] := 1; END $$`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'DO with a cursor over pg_read_file', sql: `DO $$ DECLARE c CURSOR FOR SELECT pg_read_file('postgresql.conf'); BEGIN END $$`, expect: 'deny', rule: 'no-dangerous-functions' },
  { name: 'DO with set_config', sql: `DO $$ BEGIN PERFORM set_config('standard_conforming_strings', 'off', false); END $$`, expect: 'deny', rule: 'parse-relevant-setting' },
  { name: 'DO with INSERT in an exception block', sql: 'DO $$ BEGIN INSERT INTO orders DEFAULT VALUES; EXCEPTION WHEN others THEN NULL; END $$', expect: 'deny', rule: 'no-writes' },
  { name: 'DO with DELETE … RETURNING INTO', sql: 'DO $$ DECLARE n int; BEGIN DELETE FROM orders RETURNING id INTO n; END $$', expect: 'deny', rule: 'no-writes' },
  { name: 'DO with CALL', sql: 'DO $$ BEGIN CALL guard_proc(); END $$', expect: 'deny', rule: 'no-writes' },
  { name: 'DO with CREATE TEMP TABLE', sql: 'DO $$ BEGIN CREATE TEMP TABLE guard_t (x int); END $$', expect: 'deny', rule: 'no-ddl' },
  { name: 'DO that only reads', sql: 'DO $$ DECLARE r record; BEGIN FOR r IN SELECT * FROM orders LOOP END LOOP; END $$', expect: 'allow', rule: 'reads-ok' },
  { name: 'DO with PL/pgSQL SELECT … INTO a variable', sql: 'DO $$ DECLARE n int; BEGIN SELECT count(*) INTO n FROM orders; END $$', expect: 'allow', rule: 'reads-ok' },
  { name: 'DO with an assignment from a subquery', sql: 'DO $$ <<b>> DECLARE x int; BEGIN x := (SELECT count(*) FROM orders); END b $$', expect: 'allow', rule: 'reads-ok' },
  { name: "DO LANGUAGE 'plpgsql' that only reads", sql: `DO LANGUAGE 'plpgsql' $$ BEGIN PERFORM count(*) FROM orders; END $$`, expect: 'allow', rule: 'reads-ok' },

  // ===================================================================== prepared statements and cursors
  { name: 'PREPARE of a read', sql: 'PREPARE guard_read(int) AS SELECT * FROM orders WHERE id = $1', expect: 'allow', rule: 'reads-ok' },
  { name: 'DEALLOCATE ALL', sql: 'DEALLOCATE ALL', expect: 'allow', rule: 'reads-ok' },
  { name: 'DECLARE CURSOR WITH HOLD of a read', sql: 'DECLARE guard_c CURSOR WITH HOLD FOR SELECT * FROM orders', expect: 'allow', rule: 'reads-ok' },
  {
    name: 'FETCH from a cursor',
    sql: 'FETCH 2 FROM guard_c',
    session: 'BEGIN; DECLARE guard_c CURSOR FOR SELECT * FROM orders',
    expect: 'allow',
    rule: 'reads-ok',
  },
  {
    name: 'MOVE in a cursor',
    sql: 'MOVE FORWARD ALL IN guard_c',
    session: 'BEGIN; DECLARE guard_c CURSOR FOR SELECT * FROM orders',
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: 'CLOSE ALL', sql: 'CLOSE ALL', expect: 'allow', rule: 'reads-ok' },
  { name: 'DEALLOCATE PREPARE ALL', sql: 'DEALLOCATE PREPARE ALL', expect: 'allow', rule: 'reads-ok' },
  { name: 'a data-modifying LATERAL subquery does not parse', sql: 'SELECT * FROM orders, LATERAL (DELETE FROM orders RETURNING *) d', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'DECLARE … FOR DELETE does not parse', sql: 'DECLARE guard_c CURSOR FOR DELETE FROM orders', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'PREPARE … AS PREPARE does not parse', sql: 'PREPARE guard_p AS PREPARE guard_q AS SELECT 1', expect: 'deny', rule: 'unparseable-sql' },

  // ===================================================================== unparseable input (fail closed)
  { name: 'psql \\g', sql: '\\g', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'psql \\! shell escape', sql: '\\! rm -rf /', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'psql \\copy', sql: `\\copy orders from '/etc/passwd'`, expect: 'deny', rule: 'unparseable-sql' },
  { name: 'psql variable interpolation', sql: `SELECT :'guard'`, expect: 'deny', rule: 'unparseable-sql' },
  { name: 'garbage', sql: 'SELEC 1 FORM orders', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'truncated statement', sql: 'DELETE FROM', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'unterminated string', sql: `SELECT 'unterminated; DELETE FROM orders`, expect: 'deny', rule: 'unparseable-sql' },
  { name: 'unterminated dollar quote', sql: 'SELECT $$unterminated; DELETE FROM orders', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'unterminated block comment', sql: 'SELECT 1; /* DELETE FROM orders', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'byte-order mark before DELETE', sql: '\uFEFFDELETE FROM orders', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'byte-order mark between statements', sql: 'SELECT 1;\uFEFF DELETE FROM orders', expect: 'deny', rule: 'unparseable-sql' },
  { name: 'no-break space is not whitespace', sql: 'SELECT\u00A01', expect: 'deny', rule: 'unparseable-sql' },

  // ===================================================================== size and depth
  {
    name: 'very long IN list',
    sql: `SELECT * FROM orders WHERE id IN (${Array.from({ length: 5000 }, (_, i) => i + 1).join(', ')})`,
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: '1000 nested parentheses', sql: `SELECT ${nested('(', '1', ')', 1000)}`, expect: 'allow', rule: 'reads-ok' },
  { name: '100 nested scalar subqueries', sql: `SELECT ${nested('(SELECT ', '1', ')', 100)}`, expect: 'allow', rule: 'reads-ok' },
  // Depths a JS stack of any usual size walks; see the note on '5000 nested scalar subqueries'.
  { name: '200 nested CASE expressions', sql: `SELECT ${nested('CASE WHEN true THEN ', '1', ' END', 200)}`, expect: 'allow', rule: 'reads-ok' },
  { name: '300 nested NOT', sql: `SELECT ${'NOT '.repeat(300)}true`, expect: 'allow', rule: 'reads-ok' },
  { name: '1000 nested parentheses, then DELETE', sql: `SELECT ${nested('(', '1', ')', 1000)}; DELETE FROM orders`, expect: 'deny', rule: 'no-writes' },
  // Deeper than PostgreSQL's own parser stack: rejected by the parser, so refused (the server would reject it too).
  { name: '10000 nested parentheses', sql: `SELECT ${nested('(', '1', ')', 10_000)}`, expect: 'deny', rule: 'unparseable-sql' },
  { name: '100000 nested parentheses, then DELETE', sql: `SELECT ${nested('(', '1', ')', 100_000)}; DELETE FROM orders`, expect: 'deny', rule: 'unparseable-sql' },
  // The inspector's walk is recursive: past what the JS stack holds it refuses (fail closed).
  // Where that limit lies depends on the process's stack size and JIT state, not on a
  // documented depth (e.g. ~1100 nested CASEs here, ~470 with --stack-size=400).
  { name: '5000 nested scalar subqueries', sql: `SELECT ${nested('(SELECT ', '1', ')', 5000)}`, expect: 'deny', rule: 'unparseable-sql' },

  // ===================================================================== transaction control (allowed)
  { name: 'BEGIN', sql: 'BEGIN', expect: 'allow', rule: 'transactions-ok' },
  { name: 'START TRANSACTION with options', sql: 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY', expect: 'allow', rule: 'transactions-ok' },
  { name: 'COMMIT', sql: 'COMMIT', expect: 'allow', rule: 'transactions-ok', session: 'BEGIN' },
  { name: 'END', sql: 'END', expect: 'allow', rule: 'transactions-ok', session: 'BEGIN' },
  { name: 'ROLLBACK', sql: 'ROLLBACK', expect: 'allow', rule: 'transactions-ok', session: 'BEGIN' },
  { name: 'ABORT', sql: 'ABORT', expect: 'allow', rule: 'transactions-ok', session: 'BEGIN' },
  { name: 'SAVEPOINT', sql: 'SAVEPOINT guard_s', expect: 'allow', rule: 'transactions-ok', session: 'BEGIN' },
  { name: 'RELEASE SAVEPOINT', sql: 'RELEASE SAVEPOINT guard_s', expect: 'allow', rule: 'transactions-ok', session: 'BEGIN; SAVEPOINT guard_s' },
  { name: 'ROLLBACK TO SAVEPOINT', sql: 'ROLLBACK TO SAVEPOINT guard_s', expect: 'allow', rule: 'transactions-ok', session: 'BEGIN; SAVEPOINT guard_s' },
  { name: 'SET TRANSACTION', sql: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ', expect: 'allow', rule: 'transactions-ok', session: 'BEGIN' },
  { name: 'SET CONSTRAINTS', sql: 'SET CONSTRAINTS ALL DEFERRED', expect: 'allow', rule: 'transactions-ok', session: 'BEGIN' },
  { name: 'BEGIN; SELECT; COMMIT in one Query', sql: 'BEGIN; SELECT count(*) FROM orders; COMMIT', expect: 'allow', rule: 'transactions-ok' },
  {
    name: 'savepoints and a cursor in one Query',
    sql: 'BEGIN; SAVEPOINT s; DECLARE c CURSOR FOR SELECT * FROM orders; FETCH 2 FROM c; CLOSE c; ROLLBACK TO SAVEPOINT s; RELEASE SAVEPOINT s; COMMIT',
    expect: 'allow',
    rule: 'transactions-ok',
  },

  // ===================================================================== reads (allowed)
  { name: 'SELECT', sql: 'SELECT count(*) FROM customers', expect: 'allow', rule: 'reads-ok' },
  { name: 'TABLE', sql: 'TABLE orders LIMIT 1', expect: 'allow', rule: 'reads-ok' },
  { name: 'VALUES', sql: `VALUES (1, 'a'), (2, 'b')`, expect: 'allow', rule: 'reads-ok' },
  { name: 'SELECT with no columns', sql: 'SELECT FROM orders', expect: 'allow', rule: 'reads-ok' },
  { name: 'parenthesised SELECT', sql: '(SELECT 1)', expect: 'allow', rule: 'reads-ok' },
  { name: 'SELECT FROM ONLY', sql: 'SELECT * FROM ONLY orders LIMIT 1', expect: 'allow', rule: 'reads-ok' },
  { name: 'set operations', sql: 'SELECT 1 UNION ALL SELECT 2 INTERSECT SELECT 2 EXCEPT SELECT 3', expect: 'allow', rule: 'reads-ok' },
  { name: 'subquery in WHERE', sql: 'SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE email LIKE $$%example.com$$)', expect: 'allow', rule: 'reads-ok' },
  { name: 'window and aggregate functions', sql: 'SELECT status, sum(amount_cents) OVER (PARTITION BY status), count(*) OVER () FROM orders', expect: 'allow', rule: 'reads-ok' },
  {
    name: 'WITH RECURSIVE that only reads',
    sql: 'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r',
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: 'LATERAL join', sql: 'SELECT c.id, o.id FROM customers c, LATERAL (SELECT id FROM orders WHERE customer_id = c.id LIMIT 1) o', expect: 'allow', rule: 'reads-ok' },
  { name: 'TABLESAMPLE', sql: 'SELECT * FROM orders TABLESAMPLE SYSTEM (50) REPEATABLE (1)', expect: 'allow', rule: 'reads-ok' },
  { name: 'FETCH FIRST', sql: 'SELECT * FROM orders ORDER BY id FETCH FIRST 1 ROW ONLY', expect: 'allow', rule: 'reads-ok' },
  { name: 'JSON functions', sql: `SELECT jsonb_path_query(to_jsonb(o), '$.status') FROM orders o LIMIT 3`, expect: 'allow', rule: 'reads-ok' },
  { name: 'catalog reads', sql: `SELECT name, setting FROM pg_settings WHERE name IN ('search_path', 'role')`, expect: 'allow', rule: 'reads-ok' },
  { name: 'pg_stat_activity', sql: 'SELECT pid, state FROM pg_stat_activity', expect: 'allow', rule: 'reads-ok' },
  { name: 'SHOW', sql: 'SHOW search_path', expect: 'allow', rule: 'reads-ok' },
  { name: 'SHOW ALL', sql: 'SHOW ALL', expect: 'allow', rule: 'reads-ok' },
  { name: 'COPY … TO STDOUT', sql: 'COPY orders TO STDOUT', expect: 'allow', rule: 'reads-ok' },
  { name: 'COPY … TO STDOUT binary', sql: 'COPY orders TO STDOUT (FORMAT binary)', expect: 'allow', rule: 'reads-ok' },
  {
    name: 'WITH RECURSIVE … SEARCH',
    sql: 'WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SEARCH DEPTH FIRST BY n SET ord SELECT * FROM t',
    expect: 'allow',
    rule: 'reads-ok',
  },
  { name: 'lo_get is a read', sql: 'SELECT pg_catalog.lo_get(oid) FROM pg_largeobject_metadata', expect: 'allow', rule: 'reads-ok' },
  { name: 'COPY (query) TO STDOUT with options', sql: 'COPY (SELECT id, status FROM orders) TO STDOUT WITH (FORMAT csv, HEADER)', expect: 'allow', rule: 'reads-ok' },
  { name: 'leading comment', sql: '/* report */ -- weekly\nSELECT count(*) FROM orders', expect: 'allow', rule: 'reads-ok' },
];
