import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { moreDangerous, SQL_CLASS_ORDER } from '../../../src/inspect/sql/classes.js';
import {
  DANGEROUS_FUNCTIONS,
  DEFAULT_DANGEROUS_FUNCTIONS,
  lookupDangerousFunction,
  withExtraDangerousFunctions,
  type DangerousFunction,
} from '../../../src/inspect/sql/dangerous-functions.js';
import { inspectSql } from '../../../src/inspect/sql/inspect.js';
import { loadSqlParser } from '../../../src/inspect/sql/parser.js';
import { isParseRelevantChange, isUtf8EncodingName, PARSE_RELEVANT_PARAMETERS } from '../../../src/inspect/sql/settings.js';
import { kindOfNodeType, ownClassOfNodeType, snakeCaseNodeName, STATEMENT_KINDS } from '../../../src/inspect/sql/statement-kinds.js';
import { StatementWalker } from '../../../src/inspect/sql/walker.js';
import { FactCollector } from '../../../src/inspect/sql/collector.js';
import { compact, statementsOf } from './support.js';

beforeAll(async () => {
  await loadSqlParser();
});

describe('statement kinds', () => {
  it('every kind follows the naming rule', () => {
    for (const [node, { kind }] of Object.entries(STATEMENT_KINDS)) expect(kind, node).toBe(snakeCaseNodeName(node));
    expect(snakeCaseNodeName('CreateTableAsStmt')).toBe('create_table_as');
    expect(snakeCaseNodeName('AlterTSDictionaryStmt')).toBe('alter_ts_dictionary');
    expect(snakeCaseNodeName('PLAssignStmt')).toBe('pl_assign');
  });

  it('covers every statement node of the installed parser (PostgreSQL 18)', () => {
    const require = createRequire(import.meta.url);
    const typesDir = dirname(require.resolve('@pgsql/types/package.json', { paths: [dirname(require.resolve('libpg-query'))] }));
    const source = readFileSync(join(typesDir, 'types.d.ts'), 'utf8');
    const nodes = [...source.matchAll(/^export interface (\w+Stmt) /gm)].map((m) => m[1] as string).filter((n) => n !== 'RawStmt');
    expect(nodes.length).toBeGreaterThan(100);
    expect(nodes.filter((n) => !(n in STATEMENT_KINDS))).toEqual([]);
  });

  it('an unknown node kind is class unknown, with a derived kind name', () => {
    expect(ownClassOfNodeType('FrobnicateStmt')).toBe('unknown');
    expect(kindOfNodeType('FrobnicateStmt')).toBe('frobnicate');
    const collector = new FactCollector();
    new StatementWalker(collector, DEFAULT_DANGEROUS_FUNCTIONS, '').statement({
      FrobnicateStmt: { relation: { relname: 't', inh: true }, expr: { FuncCall: { funcname: [{ String: { sval: 'f' } }], funcformat: 'COERCE_EXPLICIT_CALL' } } },
    });
    const r = collector.result();
    expect(r.class).toBe('unknown');
    expect(r.tables).toEqual([{ schema: undefined, name: 't', access: 'write' }]);
    expect(r.functions).toEqual([{ schema: undefined, name: 'f' }]);
  });

  it('a top-level node that is not a statement is unknown', () => {
    const collector = new FactCollector();
    new StatementWalker(collector, DEFAULT_DANGEROUS_FUNCTIONS, '').statement({ relname: 't' });
    expect(collector.result().class).toBe('unknown');
  });

  it('orders classes from least to most dangerous, unknown last', () => {
    expect(SQL_CLASS_ORDER).toEqual(['read', 'transaction', 'session', 'write', 'ddl', 'admin', 'unknown']);
    expect(moreDangerous('write', 'ddl')).toBe('ddl');
    expect(moreDangerous('unknown', 'admin')).toBe('unknown');
  });
});

describe('dangerous functions', () => {
  it('is data: every entry has a class and a reason, names are unique and lower case', () => {
    const names = DANGEROUS_FUNCTIONS.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const f of DANGEROUS_FUNCTIONS) {
      expect(f.name).toBe(f.name.toLowerCase());
      expect(f.reason.length).toBeGreaterThan(5);
      expect(f.class).not.toBe('read');
    }
  });

  it('lists what the issue names', () => {
    for (const name of [
      'set_config', 'pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'pg_stat_file', 'lo_import', 'lo_export',
      'pg_terminate_backend', 'pg_cancel_backend', 'pg_reload_conf', 'nextval', 'setval', 'dblink', 'dblink_exec',
      'dblink_connect', 'query_to_xml', 'query_to_xml_and_xmlschema', 'query_to_xmlschema', 'cursor_to_xml',
      'table_to_xml', 'pg_advisory_lock', 'pg_notify', 'pg_logical_emit_message', 'pg_import_system_collations',
      'pg_file_write', 'pg_promote', 'pg_switch_wal', 'pg_backup_start', 'pg_create_logical_replication_slot',
    ]) {
      expect(lookupDangerousFunction(DEFAULT_DANGEROUS_FUNCTIONS, name), name).toBeDefined();
    }
    expect(lookupDangerousFunction(DEFAULT_DANGEROUS_FUNCTIONS, 'current_setting')).toBeUndefined();
    expect(lookupDangerousFunction(DEFAULT_DANGEROUS_FUNCTIONS, 'pg_sleep')).toBeUndefined();
    expect(lookupDangerousFunction(DEFAULT_DANGEROUS_FUNCTIONS, 'PG_READ_FILE')?.class).toBe('admin');
  });

  it('can be extended from config, never weakened', () => {
    const extra: DangerousFunction[] = [
      { name: 'Audit_Purge', class: 'write', reason: 'deletes audit rows' },
      { name: 'pg_read_file', class: 'read', reason: 'trying to allow it' },
      { name: 'nextval', class: 'admin', reason: 'sequences are precious here' },
    ];
    const table = withExtraDangerousFunctions(extra);
    expect(lookupDangerousFunction(table, 'audit_purge')).toMatchObject({ class: 'write' });
    expect(lookupDangerousFunction(table, 'pg_read_file')).toMatchObject({ class: 'admin' });
    expect(lookupDangerousFunction(table, 'nextval')).toMatchObject({ class: 'admin', reason: 'sequences are precious here' });
    expect(lookupDangerousFunction(DEFAULT_DANGEROUS_FUNCTIONS, 'audit_purge')).toBeUndefined();

    const sql = 'SELECT ops.audit_purge(30)';
    expect(compact(statementsOf(sql)[0]!)).toMatchObject({ class: 'read', flags: [] });
    expect(compact(statementsOf(sql, { dangerousFunctions: table })[0]!)).toMatchObject({ class: 'write', flags: ['dangerous_function'] });
  });
});

describe('parse-relevant settings', () => {
  it('exports the parameter names the session watches', () => {
    expect([...PARSE_RELEVANT_PARAMETERS].sort()).toEqual(
      ['backslash_quote', 'client_encoding', 'role', 'search_path', 'session_authorization', 'standard_conforming_strings'],
    );
  });

  it('judges client_encoding by value', () => {
    for (const v of ['UTF8', 'utf8', 'UTF-8', 'utf_8', 'Unicode']) expect(isUtf8EncodingName(v), v).toBe(true);
    for (const v of ['SJIS', 'LATIN1', 'utf16', '']) expect(isUtf8EncodingName(v), v).toBe(false);
    expect(isParseRelevantChange('client_encoding', 'UTF8')).toBe(false);
    expect(isParseRelevantChange('CLIENT_ENCODING', 'BIG5')).toBe(true);
    expect(isParseRelevantChange('client_encoding', undefined)).toBe(true);
    expect(isParseRelevantChange('Role', 'x')).toBe(true);
    expect(isParseRelevantChange('application_name', undefined)).toBe(false);
  });

  it('every parse-relevant SET is admin and flagged', () => {
    for (const name of PARSE_RELEVANT_PARAMETERS) {
      for (const sql of [`SET ${name} = 'x'`, `SET LOCAL ${name} TO DEFAULT`, `RESET ${name}`]) {
        const [facts] = statementsOf(sql);
        expect(facts?.class, sql).toBe('admin');
        expect(facts?.flags, sql).toEqual(['parse_relevant_setting']);
      }
    }
  });
});

describe('parser wrapper', () => {
  it('loadSqlParser is idempotent', async () => {
    await Promise.all([loadSqlParser(), loadSqlParser()]);
    expect(inspectSql('SELECT 1').ok).toBe(true);
  });
});
