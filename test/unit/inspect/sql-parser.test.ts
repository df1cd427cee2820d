import { beforeAll, describe, expect, it } from 'vitest';
import {
  constantValue,
  loadSqlParser,
  nameList,
  nodeType,
  parsePlpgsql,
  parseSql,
  scanSql,
  sliceByBytes,
  SqlParseError,
  utf8IfNeeded,
} from '../../../src/inspect/sql/parser.js';

beforeAll(async () => {
  await loadSqlParser();
});

describe('parseSql', () => {
  it('returns each statement with its byte offsets', () => {
    const text = "SELECT 'é'; DELETE FROM t";
    const r = parseSql(text);
    if (!r.ok) throw r.error;
    expect(r.version).toBeGreaterThanOrEqual(180000);
    expect(r.statements.map((s) => nodeType(s.node))).toEqual(['SelectStmt', 'DeleteStmt']);
    const [first, second] = r.statements;
    expect(first).toMatchObject({ byteStart: 0, byteLength: 11 }); // 'é' is two bytes
    expect(second).toMatchObject({ byteStart: 13, byteLength: undefined });
    const bytes = utf8IfNeeded(text);
    expect(bytes).toBeDefined();
    expect(sliceByBytes(text, bytes, 13, undefined)).toBe('DELETE FROM t');
  });

  it('returns a typed error with message and position instead of throwing', () => {
    const r = parseSql('SELECT FROM FROM');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBeInstanceOf(SqlParseError);
    expect(r.error.message).toMatch(/syntax error/);
    expect(r.error.position).toBe(12);
  });
});

describe('parsePlpgsql', () => {
  it('compiles a DO body', () => {
    const r = parsePlpgsql('DO $$BEGIN DELETE FROM t; END$$');
    if (!r.ok) throw r.error;
    expect(r.functions).toHaveLength(1);
    expect(JSON.stringify(r.functions[0])).toContain('DELETE FROM t');
  });

  it('returns a typed error for a bad body', () => {
    const r = parsePlpgsql('DO $$BEGIN x := 1; END$$');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/not a known variable/);
  });
});

describe('scanSql', () => {
  it('tokenises with byte offsets', () => {
    const tokens = scanSql("x := 'é' || y");
    if (tokens instanceof SqlParseError) throw tokens;
    expect(tokens.map((t) => t.text)).toEqual(['x', ':=', "'é'", '||', 'y']);
    expect(tokens[3]).toMatchObject({ byteStart: 10, byteEnd: 12 });
  });
});

describe('node helpers', () => {
  it('tells wrapped nodes from bare structs', () => {
    expect(nodeType({ SelectStmt: {} })).toBe('SelectStmt');
    expect(nodeType({ relname: 't' })).toBeUndefined();
    expect(nodeType({ A: {}, B: {} })).toBeUndefined();
    expect(nodeType({ SelectStmt: 1 })).toBeUndefined();
    expect(nodeType([{ SelectStmt: {} }])).toBeUndefined();
  });

  it('reads name lists and constants (absent values are defaults)', () => {
    expect(nameList([{ String: { sval: 'pg_catalog' } }, { String: { sval: 'f' } }])).toEqual(['pg_catalog', 'f']);
    expect(nameList([{ String: { sval: 'f' } }, { A_Star: {} }])).toBeUndefined();
    expect(constantValue({ A_Const: { sval: { sval: 'x' } } })).toEqual({ type: 'string', value: 'x' });
    expect(constantValue({ A_Const: { ival: {} } })).toEqual({ type: 'integer', value: 0 });
    expect(constantValue({ A_Const: { isnull: true } })).toEqual({ type: 'null' });
    expect(constantValue({ TypeCast: { arg: { A_Const: { boolval: {} } } } })).toEqual({ type: 'boolean', value: false });
    expect(constantValue({ ColumnRef: {} })).toBeUndefined();
  });
});
