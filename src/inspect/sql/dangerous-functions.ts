import { moreDangerous } from './classes.js';
import type { SqlClass } from './facts.js';

/**
 * Built-in functions that are not reads: they have side effects, reach outside the
 * database (files, programs, other servers), execute a string as SQL, or change who the
 * session is. Calling one sets the `dangerous_function` flag and raises the statement's
 * class to at least the listed class, so a "reads only" policy refuses it.
 *
 * Matching is by function NAME only, case-insensitively, whatever the schema
 * qualification or quoting: `pg_read_file(…)`, `pg_catalog.pg_read_file(…)`,
 * `"pg_read_file"(…)` and `public.PG_READ_FILE(…)` all match. (An unqualified call
 * resolves to pg_catalog first; a same-named function elsewhere is treated the same,
 * which can only make a decision stricter.)
 */
export interface DangerousFunction {
  /** Function name, matched case-insensitively regardless of schema. */
  readonly name: string;
  /** The class a call forces (at least). */
  readonly class: SqlClass;
  /** Why, in words for a refusal message. */
  readonly reason: string;
  /** The function executes a string as SQL (sets the `dynamic_sql` flag). */
  readonly dynamicSql?: boolean;
}

const FILES = 'reads or lists files on the database server';
const LARGE_OBJECT_WRITE = 'creates, changes or deletes large objects';
const SIGNAL = 'signals or stops other server processes';
const SERVER_CONTROL = 'controls the database server (configuration, logs, WAL, backups, recovery)';
const REPLICATION = 'manages replication slots/origins or reads decoded WAL of every table';
const DBLINK = 'connects to another database server and runs SQL there';
const DBLINK_SQL = 'runs a SQL string on another database server';
const SPI_SQL = 'runs SQL built from its text arguments, which cannot be inspected';
const XML_QUERY = 'executes a SQL string given as an argument';
const XML_TABLE = 'reads a whole table, schema or database chosen at run time';
const ADVISORY = 'takes advisory locks held for the session or transaction';

const entries = (names: readonly string[], cls: SqlClass, reason: string, dynamicSql = false): DangerousFunction[] =>
  names.map((name) => (dynamicSql ? { name, class: cls, reason, dynamicSql } : { name, class: cls, reason }));

export const DANGEROUS_FUNCTIONS: readonly DangerousFunction[] = Object.freeze([
  // Settings and identity. `set_config` is `session`; when its first argument names a
  // parse-relevant setting (or is not a constant) the inspector also flags
  // parse_relevant_setting and raises the class to admin (see settings.ts).
  { name: 'set_config', class: 'session', reason: 'changes a run-time setting' },
  { name: 'pg_notify', class: 'session', reason: 'sends a notification to other sessions' },
  ...entries(
    [
      'pg_advisory_lock',
      'pg_advisory_lock_shared',
      'pg_try_advisory_lock',
      'pg_try_advisory_lock_shared',
      'pg_advisory_unlock',
      'pg_advisory_unlock_shared',
      'pg_advisory_unlock_all',
      'pg_advisory_xact_lock',
      'pg_advisory_xact_lock_shared',
      'pg_try_advisory_xact_lock',
      'pg_try_advisory_xact_lock_shared',
    ],
    'session',
    ADVISORY,
  ),
  // Writes outside any table a rule can name.
  { name: 'nextval', class: 'write', reason: 'advances a sequence' },
  { name: 'setval', class: 'write', reason: 'sets a sequence' },
  { name: 'txid_current', class: 'write', reason: 'assigns a transaction id' },
  { name: 'pg_current_xact_id', class: 'write', reason: 'assigns a transaction id' },
  { name: 'pg_logical_emit_message', class: 'write', reason: 'writes a message into the WAL' },
  ...entries(
    ['lo_unlink', 'lo_put', 'lo_create', 'lo_creat', 'lo_open', 'lo_from_bytea', 'lowrite', 'lo_truncate', 'lo_truncate64'],
    'write',
    LARGE_OBJECT_WRITE,
  ),
  ...entries(
    ['pg_restore_relation_stats', 'pg_restore_attribute_stats', 'pg_clear_relation_stats', 'pg_clear_attribute_stats'],
    'write',
    'overwrites planner statistics',
  ),
  // Server files and programs.
  ...entries(
    [
      'pg_read_file',
      'pg_read_binary_file',
      'pg_ls_dir',
      'pg_stat_file',
      'pg_ls_logdir',
      'pg_ls_waldir',
      'pg_ls_tmpdir',
      'pg_ls_archive_statusdir',
      'pg_ls_logicalsnapdir',
      'pg_ls_logicalmapdir',
      'pg_ls_replslotdir',
      'pg_ls_summariesdir',
      'pg_logdir_ls',
    ],
    'admin',
    FILES,
  ),
  ...entries(
    ['pg_show_all_file_settings', 'pg_hba_file_rules', 'pg_ident_file_mappings'],
    'admin',
    'reads server configuration files',
  ),
  { name: 'lo_import', class: 'admin', reason: 'reads a file on the database server into a large object' },
  { name: 'lo_export', class: 'admin', reason: 'writes a large object to a file on the database server' },
  ...entries(
    ['pg_file_write', 'pg_file_rename', 'pg_file_unlink', 'pg_file_sync'],
    'admin',
    'writes, renames or deletes files on the database server (adminpack)',
  ),
  // Other sessions and the server itself.
  ...entries(['pg_terminate_backend', 'pg_cancel_backend', 'pg_log_backend_memory_contexts'], 'admin', SIGNAL),
  ...entries(
    [
      'pg_reload_conf',
      'pg_rotate_logfile',
      'pg_promote',
      'pg_switch_wal',
      'pg_create_restore_point',
      'pg_start_backup',
      'pg_stop_backup',
      'pg_backup_start',
      'pg_backup_stop',
      'pg_wal_replay_pause',
      'pg_wal_replay_resume',
      'pg_log_standby_snapshot',
      'pg_stat_reset',
      'pg_stat_reset_shared',
      'pg_stat_reset_single_table_counters',
      'pg_stat_reset_single_function_counters',
      'pg_stat_reset_slru',
      'pg_stat_reset_replication_slot',
      'pg_stat_reset_subscription_stats',
      'pg_stat_reset_backend_stats',
      'pg_stat_statements_reset',
      'pg_import_system_collations',
    ],
    'admin',
    SERVER_CONTROL,
  ),
  ...entries(
    [
      'pg_create_physical_replication_slot',
      'pg_create_logical_replication_slot',
      'pg_drop_replication_slot',
      'pg_copy_physical_replication_slot',
      'pg_copy_logical_replication_slot',
      'pg_replication_slot_advance',
      'pg_sync_replication_slots',
      'pg_logical_slot_get_changes',
      'pg_logical_slot_peek_changes',
      'pg_logical_slot_get_binary_changes',
      'pg_logical_slot_peek_binary_changes',
      'pg_replication_origin_create',
      'pg_replication_origin_drop',
      'pg_replication_origin_advance',
      'pg_replication_origin_session_setup',
      'pg_replication_origin_session_reset',
      'pg_replication_origin_xact_setup',
      'pg_replication_origin_xact_reset',
    ],
    'admin',
    REPLICATION,
  ),
  // Strings executed as SQL, locally or elsewhere.
  ...entries(['dblink', 'dblink_exec', 'dblink_open', 'dblink_fetch', 'dblink_send_query'], 'admin', DBLINK_SQL, true),
  // tablefunc and xml2 build SQL from their text arguments and run it (SPI).
  ...entries(['crosstab', 'crosstab2', 'crosstab3', 'crosstab4', 'connectby', 'xpath_table'], 'admin', SPI_SQL, true),
  ...entries(
    [
      'dblink_connect',
      'dblink_connect_u',
      'dblink_disconnect',
      'dblink_close',
      'dblink_get_result',
      'dblink_get_connections',
      'dblink_is_busy',
      'dblink_cancel_query',
      'dblink_error_message',
      'dblink_get_notify',
    ],
    'admin',
    DBLINK,
  ),
  ...entries(
    ['query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema', 'ts_stat', 'ts_rewrite'],
    'admin',
    XML_QUERY,
    true,
  ),
  ...entries(
    [
      'cursor_to_xml',
      'cursor_to_xmlschema',
      'table_to_xml',
      'table_to_xmlschema',
      'table_to_xml_and_xmlschema',
      'schema_to_xml',
      'schema_to_xmlschema',
      'schema_to_xml_and_xmlschema',
      'database_to_xml',
      'database_to_xmlschema',
      'database_to_xml_and_xmlschema',
    ],
    'admin',
    XML_TABLE,
  ),
]);

/** A lookup table by lower-cased name. Build one with `withExtraDangerousFunctions`. */
export type DangerousFunctionTable = ReadonlyMap<string, DangerousFunction>;

function buildTable(list: readonly DangerousFunction[], base?: DangerousFunctionTable): DangerousFunctionTable {
  const table = new Map<string, DangerousFunction>(base ?? []);
  for (const entry of list) {
    const key = entry.name.toLowerCase();
    const existing = table.get(key);
    // Extending never weakens: a name listed twice keeps the more dangerous class and
    // stays dynamic SQL if either entry says so.
    if (existing === undefined) {
      table.set(key, { ...entry, name: key });
    } else {
      const cls = moreDangerous(existing.class, entry.class);
      const dynamicSql = existing.dynamicSql === true || entry.dynamicSql === true;
      const reason = cls === existing.class ? existing.reason : entry.reason;
      table.set(key, dynamicSql ? { name: key, class: cls, reason, dynamicSql } : { name: key, class: cls, reason });
    }
  }
  return table;
}

export const DEFAULT_DANGEROUS_FUNCTIONS: DangerousFunctionTable = buildTable(DANGEROUS_FUNCTIONS);

/**
 * The built-in table extended with entries from config. Extra entries can add names or
 * raise a class; they never lower a built-in one (allowing a function is a policy rule's
 * job, not the inspector's).
 */
export function withExtraDangerousFunctions(
  extra: readonly DangerousFunction[],
  base: DangerousFunctionTable = DEFAULT_DANGEROUS_FUNCTIONS,
): DangerousFunctionTable {
  return buildTable(extra, base);
}

export function lookupDangerousFunction(table: DangerousFunctionTable, name: string): DangerousFunction | undefined {
  return table.get(name.toLowerCase());
}
