/**
 * Settings that change how later statements are parsed or who runs them. Changing one
 * would make the inspector's view of later statements diverge from the server's (a
 * different string-literal syntax or client encoding lets `'…'` hide a statement; a
 * different role or search_path changes what names mean and who may do what), so a
 * change is flagged `parse_relevant_setting` and classed `admin`: denied unless a rule
 * explicitly allows it.
 *
 * Names are PostgreSQL GUC names, lower case. The session can also watch the server's
 * ParameterStatus messages for these names and end the session if one changes anyway.
 */
export const PARSE_RELEVANT_PARAMETERS: readonly string[] = Object.freeze([
  'standard_conforming_strings',
  'backslash_quote',
  'client_encoding',
  'role',
  'session_authorization',
  'search_path',
]);

const RELEVANT = new Set(PARSE_RELEVANT_PARAMETERS);

/**
 * A setting change to judge: the parameter name (any case; GUC names are
 * case-insensitive) and, when known, its new value as a constant string. `undefined`
 * value means "not a constant / reset to default": treated as relevant, except for
 * settings that are not parse-relevant at all.
 */
export function isParseRelevantChange(name: string, value: string | undefined): boolean {
  const key = name.toLowerCase();
  if (!RELEVANT.has(key)) return false;
  if (key === 'client_encoding') return value === undefined || !isUtf8EncodingName(value);
  return true;
}

/**
 * PostgreSQL normalises encoding names by dropping non-alphanumerics and case, and
 * accepts `unicode` as an alias of UTF8 (`UTF8`, `utf-8`, `Utf_8`, `UNICODE`).
 */
export function isUtf8EncodingName(value: string): boolean {
  let normalized = '';
  for (const ch of value.toLowerCase()) {
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) normalized += ch;
  }
  return normalized === 'utf8' || normalized === 'unicode';
}

/**
 * Settings that are not parse-relevant but switch off enforcement the database itself
 * provides; changing one is `admin`. (All need superuser, so this mostly documents
 * intent and catches a misconfigured target role.)
 */
export const ADMIN_PARAMETERS: Readonly<Record<string, string>> = Object.freeze({
  session_replication_role: 'disables triggers and foreign-key checks',
  allow_system_table_mods: 'allows changing system catalogs',
  ignore_system_indexes: 'changes how system catalogs are read',
  zero_damaged_pages: 'destroys damaged data',
  ignore_checksum_failure: 'ignores data corruption',
  ignore_invalid_pages: 'ignores WAL corruption',
  lo_compat_privileges: 'disables large-object privilege checks',
});

export function adminParameterReason(name: string): string | undefined {
  const key = name.toLowerCase();
  return Object.hasOwn(ADMIN_PARAMETERS, key) ? ADMIN_PARAMETERS[key] : undefined;
}
