/** Public surface of the SQL inspector. */
export type { FunctionCall, SqlClass, SqlFlag, SqlInspection, StatementFacts, TableAccess } from './facts.js';
export { SQL_CLASS_ORDER, classRank, moreDangerous } from './classes.js';
export { inspectSql, withPreparedFacts, type InspectOptions } from './inspect.js';
export { loadSqlParser, isSqlParserLoaded, parseSql, parsePlpgsql, SqlParseError } from './parser.js';
export {
  DANGEROUS_FUNCTIONS,
  DEFAULT_DANGEROUS_FUNCTIONS,
  withExtraDangerousFunctions,
  lookupDangerousFunction,
  type DangerousFunction,
  type DangerousFunctionTable,
} from './dangerous-functions.js';
export { PARSE_RELEVANT_PARAMETERS, isParseRelevantChange } from './settings.js';
export { STATEMENT_KINDS, kindOfNodeType } from './statement-kinds.js';
