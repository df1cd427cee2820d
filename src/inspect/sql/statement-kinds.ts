import type { SqlClass } from './facts.js';

/**
 * Every PostgreSQL 18 statement node, its `kind` (snake case of the node name without
 * `Stmt`) and the class the statement has *by itself*. The final class of a statement
 * is the most dangerous of this and of everything found inside it (nested DML, PL/pgSQL
 * bodies, dangerous functions, parse-relevant settings…), so e.g. `PREPARE p AS DELETE …`
 * is `write` and `EXPLAIN ANALYZE DELETE …` is `write`.
 *
 * Refinements made by the inspector (see inspect.ts) on top of this table:
 * - `select` with `INTO` creates a table → `ddl`; with `FOR UPDATE/SHARE…` it locks
 *   (and writes) rows → `write`.
 * - `copy` FROM → `write`, TO → `read`; to/from a server file or PROGRAM → `admin`.
 * - `transaction`: PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED → `admin`
 *   (a prepared transaction outlives the session and holds its locks).
 * - `variable_set`: SET TRANSACTION → `transaction`; parse-relevant settings (role,
 *   session_authorization, search_path, standard_conforming_strings, backslash_quote,
 *   non-UTF8 client_encoding, RESET ALL) → `admin`.
 * - `discard`: DISCARD ALL resets role and every setting → `admin`.
 * - `explain` without ANALYZE: what it explains is not run, so its writes count as
 *   reads (dangerous functions and unknowns still count); with ANALYZE it runs.
 * - `execute` runs a prepared statement the inspector cannot see → `unknown` until the
 *   session substitutes what was prepared (see `preparedName`).
 *
 * Choices worth knowing:
 * - `prepare`, `declare_cursor`, `fetch`, `close_portal`, `deallocate`, `do` are `read`
 *   by themselves: they are mechanics (psql's FETCH_COUNT and driver cursors use
 *   them); what they run is inspected and decides the class.
 * - `call` is `write`: a procedure's body is not visible and procedures exist to change
 *   things. (User functions called from a SELECT are not visible either; that is what
 *   function rules are for.)
 * - `lock`, `truncate`, `refresh_mat_view` are `write` (they change or block data).
 * - `notify`/`listen`/`unlisten` are `session`.
 * - `grant`/`revoke` on objects, `comment`, `sec_label`, `alter_default_privileges` are
 *   `ddl`; role membership (`grant_role`) and everything about roles, databases,
 *   tablespaces, extensions, languages, FDWs/servers/user mappings, replication,
 *   maintenance (VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT), LOAD and ALTER SYSTEM
 *   is `admin`, as are operator classes/families and access methods (superuser-only).
 * - Node kinds not in this table are class `unknown` (fail closed).
 */
export const STATEMENT_KINDS: Readonly<Record<string, { readonly kind: string; readonly class: SqlClass }>> = {
  // Queries and DML
  SelectStmt: { kind: 'select', class: 'read' },
  InsertStmt: { kind: 'insert', class: 'write' },
  UpdateStmt: { kind: 'update', class: 'write' },
  DeleteStmt: { kind: 'delete', class: 'write' },
  MergeStmt: { kind: 'merge', class: 'write' },
  CopyStmt: { kind: 'copy', class: 'read' },
  TruncateStmt: { kind: 'truncate', class: 'write' },
  LockStmt: { kind: 'lock', class: 'write' },
  RefreshMatViewStmt: { kind: 'refresh_mat_view', class: 'write' },
  CallStmt: { kind: 'call', class: 'write' },
  DoStmt: { kind: 'do', class: 'read' },
  ExplainStmt: { kind: 'explain', class: 'read' },
  VariableShowStmt: { kind: 'variable_show', class: 'read' },
  ReturnStmt: { kind: 'return', class: 'read' },
  PLAssignStmt: { kind: 'pl_assign', class: 'read' },
  SetOperationStmt: { kind: 'set_operation', class: 'read' },
  // Prepared statements and cursors
  PrepareStmt: { kind: 'prepare', class: 'read' },
  ExecuteStmt: { kind: 'execute', class: 'unknown' },
  DeallocateStmt: { kind: 'deallocate', class: 'read' },
  DeclareCursorStmt: { kind: 'declare_cursor', class: 'read' },
  FetchStmt: { kind: 'fetch', class: 'read' },
  ClosePortalStmt: { kind: 'close_portal', class: 'read' },
  // Transaction control
  TransactionStmt: { kind: 'transaction', class: 'transaction' },
  ConstraintsSetStmt: { kind: 'constraints_set', class: 'transaction' },
  // Session state
  VariableSetStmt: { kind: 'variable_set', class: 'session' },
  DiscardStmt: { kind: 'discard', class: 'session' },
  ListenStmt: { kind: 'listen', class: 'session' },
  UnlistenStmt: { kind: 'unlisten', class: 'session' },
  NotifyStmt: { kind: 'notify', class: 'session' },
  // Schema changes
  CreateStmt: { kind: 'create', class: 'ddl' },
  CreateTableAsStmt: { kind: 'create_table_as', class: 'ddl' },
  ViewStmt: { kind: 'view', class: 'ddl' },
  IndexStmt: { kind: 'index', class: 'ddl' },
  AlterTableStmt: { kind: 'alter_table', class: 'ddl' },
  ReplicaIdentityStmt: { kind: 'replica_identity', class: 'ddl' },
  RenameStmt: { kind: 'rename', class: 'ddl' },
  DropStmt: { kind: 'drop', class: 'ddl' },
  CommentStmt: { kind: 'comment', class: 'ddl' },
  SecLabelStmt: { kind: 'sec_label', class: 'ddl' },
  GrantStmt: { kind: 'grant', class: 'ddl' },
  AlterDefaultPrivilegesStmt: { kind: 'alter_default_privileges', class: 'ddl' },
  CreateSchemaStmt: { kind: 'create_schema', class: 'ddl' },
  CreateSeqStmt: { kind: 'create_seq', class: 'ddl' },
  AlterSeqStmt: { kind: 'alter_seq', class: 'ddl' },
  CreateFunctionStmt: { kind: 'create_function', class: 'ddl' },
  AlterFunctionStmt: { kind: 'alter_function', class: 'ddl' },
  CreateTrigStmt: { kind: 'create_trig', class: 'ddl' },
  RuleStmt: { kind: 'rule', class: 'ddl' },
  CreatePolicyStmt: { kind: 'create_policy', class: 'ddl' },
  AlterPolicyStmt: { kind: 'alter_policy', class: 'ddl' },
  DefineStmt: { kind: 'define', class: 'ddl' },
  CompositeTypeStmt: { kind: 'composite_type', class: 'ddl' },
  CreateEnumStmt: { kind: 'create_enum', class: 'ddl' },
  AlterEnumStmt: { kind: 'alter_enum', class: 'ddl' },
  CreateRangeStmt: { kind: 'create_range', class: 'ddl' },
  CreateDomainStmt: { kind: 'create_domain', class: 'ddl' },
  AlterDomainStmt: { kind: 'alter_domain', class: 'ddl' },
  AlterTypeStmt: { kind: 'alter_type', class: 'ddl' },
  AlterOperatorStmt: { kind: 'alter_operator', class: 'ddl' },
  AlterCollationStmt: { kind: 'alter_collation', class: 'ddl' },
  CreateStatsStmt: { kind: 'create_stats', class: 'ddl' },
  AlterStatsStmt: { kind: 'alter_stats', class: 'ddl' },
  CreateCastStmt: { kind: 'create_cast', class: 'ddl' },
  CreateConversionStmt: { kind: 'create_conversion', class: 'ddl' },
  CreateTransformStmt: { kind: 'create_transform', class: 'ddl' },
  AlterTSDictionaryStmt: { kind: 'alter_ts_dictionary', class: 'ddl' },
  AlterTSConfigurationStmt: { kind: 'alter_ts_configuration', class: 'ddl' },
  AlterObjectDependsStmt: { kind: 'alter_object_depends', class: 'ddl' },
  AlterObjectSchemaStmt: { kind: 'alter_object_schema', class: 'ddl' },
  AlterOwnerStmt: { kind: 'alter_owner', class: 'ddl' },
  CreateForeignTableStmt: { kind: 'create_foreign_table', class: 'ddl' },
  ImportForeignSchemaStmt: { kind: 'import_foreign_schema', class: 'ddl' },
  // Administration
  AlterSystemStmt: { kind: 'alter_system', class: 'admin' },
  LoadStmt: { kind: 'load', class: 'admin' },
  VacuumStmt: { kind: 'vacuum', class: 'admin' },
  ClusterStmt: { kind: 'cluster', class: 'admin' },
  ReindexStmt: { kind: 'reindex', class: 'admin' },
  CheckPointStmt: { kind: 'check_point', class: 'admin' },
  CreateRoleStmt: { kind: 'create_role', class: 'admin' },
  AlterRoleStmt: { kind: 'alter_role', class: 'admin' },
  AlterRoleSetStmt: { kind: 'alter_role_set', class: 'admin' },
  DropRoleStmt: { kind: 'drop_role', class: 'admin' },
  GrantRoleStmt: { kind: 'grant_role', class: 'admin' },
  DropOwnedStmt: { kind: 'drop_owned', class: 'admin' },
  ReassignOwnedStmt: { kind: 'reassign_owned', class: 'admin' },
  CreatedbStmt: { kind: 'createdb', class: 'admin' },
  DropdbStmt: { kind: 'dropdb', class: 'admin' },
  AlterDatabaseStmt: { kind: 'alter_database', class: 'admin' },
  AlterDatabaseSetStmt: { kind: 'alter_database_set', class: 'admin' },
  AlterDatabaseRefreshCollStmt: { kind: 'alter_database_refresh_coll', class: 'admin' },
  CreateTableSpaceStmt: { kind: 'create_table_space', class: 'admin' },
  DropTableSpaceStmt: { kind: 'drop_table_space', class: 'admin' },
  AlterTableSpaceOptionsStmt: { kind: 'alter_table_space_options', class: 'admin' },
  AlterTableMoveAllStmt: { kind: 'alter_table_move_all', class: 'admin' },
  CreateExtensionStmt: { kind: 'create_extension', class: 'admin' },
  AlterExtensionStmt: { kind: 'alter_extension', class: 'admin' },
  AlterExtensionContentsStmt: { kind: 'alter_extension_contents', class: 'admin' },
  CreatePLangStmt: { kind: 'create_p_lang', class: 'admin' },
  CreateAmStmt: { kind: 'create_am', class: 'admin' },
  CreateOpClassStmt: { kind: 'create_op_class', class: 'admin' },
  CreateOpFamilyStmt: { kind: 'create_op_family', class: 'admin' },
  AlterOpFamilyStmt: { kind: 'alter_op_family', class: 'admin' },
  CreateEventTrigStmt: { kind: 'create_event_trig', class: 'admin' },
  AlterEventTrigStmt: { kind: 'alter_event_trig', class: 'admin' },
  CreateFdwStmt: { kind: 'create_fdw', class: 'admin' },
  AlterFdwStmt: { kind: 'alter_fdw', class: 'admin' },
  CreateForeignServerStmt: { kind: 'create_foreign_server', class: 'admin' },
  AlterForeignServerStmt: { kind: 'alter_foreign_server', class: 'admin' },
  CreateUserMappingStmt: { kind: 'create_user_mapping', class: 'admin' },
  AlterUserMappingStmt: { kind: 'alter_user_mapping', class: 'admin' },
  DropUserMappingStmt: { kind: 'drop_user_mapping', class: 'admin' },
  CreatePublicationStmt: { kind: 'create_publication', class: 'admin' },
  AlterPublicationStmt: { kind: 'alter_publication', class: 'admin' },
  CreateSubscriptionStmt: { kind: 'create_subscription', class: 'admin' },
  AlterSubscriptionStmt: { kind: 'alter_subscription', class: 'admin' },
  DropSubscriptionStmt: { kind: 'drop_subscription', class: 'admin' },
};

/**
 * The naming rule behind every `kind`: drop a trailing `Stmt`, then snake-case, splitting
 * before an upper-case letter that follows a lower-case letter or digit, and before the
 * last capital of an acronym run that is followed by lower case (`PLAssign` → `pl_assign`,
 * `TSDictionary` → `ts_dictionary`). Used for node kinds missing from the table.
 */
export function kindOfNodeType(nodeType: string): string {
  return Object.hasOwn(STATEMENT_KINDS, nodeType) ? (STATEMENT_KINDS[nodeType]?.kind ?? '') : snakeCaseNodeName(nodeType);
}

export function snakeCaseNodeName(nodeType: string): string {
  const base = nodeType.endsWith('Stmt') && nodeType.length > 4 ? nodeType.slice(0, -4) : nodeType;
  let out = '';
  for (let i = 0; i < base.length; i++) {
    const ch = base[i] as string;
    const isUpper = ch >= 'A' && ch <= 'Z';
    if (isUpper && i > 0) {
      const prev = base[i - 1] as string;
      const next = base[i + 1];
      const prevLowerOrDigit = (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9');
      const prevUpper = prev >= 'A' && prev <= 'Z';
      const nextLower = next !== undefined && next >= 'a' && next <= 'z';
      if (prevLowerOrDigit || (prevUpper && nextLower)) out += '_';
    }
    out += ch.toLowerCase();
  }
  return out;
}

/** The class a statement node has by itself; `unknown` for nodes not in the table. */
export function ownClassOfNodeType(nodeType: string): SqlClass {
  return Object.hasOwn(STATEMENT_KINDS, nodeType) ? (STATEMENT_KINDS[nodeType]?.class ?? 'unknown') : 'unknown';
}
