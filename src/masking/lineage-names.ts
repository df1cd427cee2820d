/**
 * Names for refusal messages: the name PostgreSQL gives an output column that has no `AS`
 * (a simplified FigureColname), so refusals name the column the agent sees; and relation
 * names as written.
 */
import {
  asArray,
  field,
  nameList,
  nodeBody,
  nodeType,
  stringField,
  stringNodeValue,
  type PgObject,
} from '../inspect/sql/parser.js';

const UNNAMED = '?column?';

export function outputName(value: unknown): string {
  const type = nodeType(value);
  const body = type === undefined ? undefined : nodeBody(value, type);
  if (type === undefined || body === undefined) return UNNAMED;
  switch (type) {
    case 'ColumnRef':
      return lastName(asArray(body['fields'])) ?? UNNAMED;
    case 'A_Indirection':
      return lastName(asArray(body['indirection'])) ?? outputName(body['arg']);
    case 'FuncCall':
      return nameList(body['funcname'])?.at(-1) ?? UNNAMED;
    case 'TypeCast': {
      const inner = outputName(body['arg']);
      return inner !== UNNAMED ? inner : (nameList(field(body, 'typeName')?.['names'])?.at(-1) ?? UNNAMED);
    }
    case 'CollateClause':
      return outputName(body['arg']);
    case 'CaseExpr':
      return 'case';
    case 'CoalesceExpr':
      return 'coalesce';
    case 'MinMaxExpr':
      return stringField(body, 'op') === 'IS_GREATEST' ? 'greatest' : 'least';
    case 'A_ArrayExpr':
      return 'array';
    case 'RowExpr':
      return 'row';
    case 'SubLink': {
      const kind = stringField(body, 'subLinkType');
      return kind === 'EXISTS_SUBLINK' ? 'exists' : kind === 'ARRAY_SUBLINK' ? 'array' : UNNAMED;
    }
    default:
      return UNNAMED;
  }
}

/** The last String of a name list (`t.email` → `email`); undefined when it ends in `*` or a subscript. */
function lastName(items: readonly unknown[]): string | undefined {
  return stringNodeValue(items[items.length - 1]);
}

/** A RangeVar as written: `schema.name` or `name`. */
export function relationName(rangeVar: PgObject | undefined): string {
  const name = rangeVar === undefined ? undefined : stringField(rangeVar, 'relname');
  if (rangeVar === undefined || name === undefined) return '?';
  const schema = stringField(rangeVar, 'schemaname');
  return schema === undefined ? name : `${schema}.${name}`;
}
