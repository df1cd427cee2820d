/**
 * The large-result dataset: a `customers` table generated inside PostgreSQL, the statements
 * the bench reads it with, the marker strings that prove masking worked (or did not need
 * to), and the example's masking profile it is read through.
 *
 * The table is named so the example profile's column rules apply as shipped
 * (public.customers.email → [EMAIL] on every row, card_number → partial), and its free text
 * carries a small share of sensitive values only the content detectors can find: an e-mail
 * address in one note in 50, a card number in another one in 50. The other columns are
 * plain text the detectors scan and leave alone.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { EXAMPLE_CONFIG } from '../support/policy.js';

export const TABLE = 'customers';
/** Table glob the example's read rules are narrowed to. */
export const TABLE_GLOB = `public.${TABLE}`;
export const EXAMPLE_PROFILE = 'pii-for-agents';

const COLUMNS = 'id, name, email, card_number, note, address, status';

/** `$1` is the row count. Unlogged and without autovacuum: generated once, read many times, nothing changes it. */
export const CREATE_SQL = [
  `CREATE UNLOGGED TABLE ${TABLE} (id bigint PRIMARY KEY, name text, email text, card_number text, note text, address text, status text)
     WITH (autovacuum_enabled = false)`,
  `INSERT INTO ${TABLE}
   SELECT g,
          'customer ' || g || ' ' || substr(md5(g::text), 1, 16),
          'user' || g || '@example.com',
          CASE WHEN g % 20 = 0 THEN '4111 1111 1111 1111' END,
          CASE WHEN g % 50 = 0 THEN 'contact user' || g || '@mail.example.org please'
               WHEN g % 50 = 25 THEN 'paid with card 5555 5555 5555 4444 on file'
               ELSE 'ticket note ' || substr(md5((g * 7)::text), 1, 20) || ' resolved' END,
          'order ' || (g * 13) || ' shipped to warehouse ' || (g % 97),
          repeat('x', 20) || ' ' || substr(md5((g * 11)::text), 1, 16)
   FROM generate_series(1, $1::bigint) g`,
  // Hint bits and the visibility map set now, so no timed read pays for them.
  `VACUUM (FREEZE, ANALYZE) ${TABLE}`,
] as const;

export type QueryKind = 'select' | 'copy';
export const QUERY_KINDS: readonly QueryKind[] = ['select', 'copy'];

/** What each kind runs: every row and column, as an agent exporting the table would. */
export const STATEMENTS: Readonly<Record<QueryKind, string>> = {
  select: `SELECT ${COLUMNS} FROM ${TABLE}`,
  copy: `COPY ${TABLE} (${COLUMNS}) TO STDOUT`,
};

/** A short read of the same shape, for warming caches and the gateway's JIT without a full pass. */
export function warmupStatement(kind: QueryKind, rows: number): string {
  return kind === 'select' ? `${STATEMENTS.select} WHERE id <= ${rows}` : `COPY (SELECT ${COLUMNS} FROM ${TABLE} WHERE id <= ${rows}) TO STDOUT`;
}

export interface Marker {
  readonly text: string;
  /**
   * `sensitive`: a planted value — every one must reach a reader without masking, none a
   * masked reader. `label`: what masking writes instead — none without masking, at least
   * one per planted value of `covers` with it.
   */
  readonly kind: 'sensitive' | 'label';
  readonly what: string;
  readonly covers?: readonly string[];
}

export const MARKERS: readonly Marker[] = [
  { text: '@example.com', kind: 'sensitive', what: 'e-mail in column email (column rule)' },
  { text: '4111 1111 1111 1111', kind: 'sensitive', what: 'card in column card_number (column rule, partial)' },
  { text: '@mail.example.org', kind: 'sensitive', what: 'e-mail in free text (detector)' },
  { text: '5555 5555 5555 4444', kind: 'sensitive', what: 'card in free text (detector)' },
  { text: '[EMAIL]', kind: 'label', what: 'redacted e-mails', covers: ['@example.com', '@mail.example.org'] },
  { text: '**** **** **** 1111', kind: 'label', what: 'partially masked column cards', covers: ['4111 1111 1111 1111'] },
  { text: '[CARD]', kind: 'label', what: 'redacted free-text cards', covers: ['5555 5555 5555 4444'] },
];

/**
 * Counts, in one pass, the rows and each sensitive marker's occurrences in the rows' text —
 * what a reader without masking must receive. (A marker without quotes or backslashes
 * reads the same in a row's text form as on the wire.)
 */
export function expectedCountsSql(): { readonly sql: string; readonly params: readonly string[] } {
  const sensitive = MARKERS.filter((m) => m.kind === 'sensitive');
  const sums = sensitive.map(
    (_, i) => `coalesce(sum((length(t) - length(replace(t, $${i + 1}, ''))) / length($${i + 1})), 0)::bigint AS m${i}`,
  );
  return {
    sql: `SELECT count(*)::bigint AS rows, ${sums.join(', ')} FROM (SELECT c::text AS t FROM ${TABLE} c) s`,
    params: sensitive.map((m) => m.text),
  };
}

/** Thrown when examples/portcullis.yaml no longer has the profile the bench claims to measure. */
export class ExampleProfileError extends Error {
  override readonly name = 'ExampleProfileError';
}

/**
 * The example's masking profile, as written (config-file syntax), checked to be what the
 * bench says it measures: content detectors on, for `group`, with a column rule on this
 * table's email column.
 */
export function exampleMaskingProfile(exampleDoc: unknown, group: string, name = EXAMPLE_PROFILE): Record<string, unknown> {
  const fail = (message: string): never => {
    throw new ExampleProfileError(`${EXAMPLE_CONFIG}: ${message} — bench:large reads through this profile; update bench/large/dataset.ts`);
  };
  const masking = (exampleDoc as { masking?: unknown } | null)?.masking;
  if (!Array.isArray(masking)) fail('no masking profiles');
  const profile = (masking as unknown[]).find((p) => (p as { name?: unknown } | null)?.name === name) as Record<string, unknown> | undefined;
  if (profile === undefined) return fail(`no masking profile "${name}"`);
  const detectors = profile['detectors'];
  if (!Array.isArray(detectors) || detectors.length === 0) fail(`profile "${name}" has no content detectors`);
  const groups = (profile['for'] as { groups?: unknown } | undefined)?.groups;
  if (groups !== undefined && !(Array.isArray(groups) && groups.includes(group))) fail(`profile "${name}" does not apply to group "${group}"`);
  const columns = profile['columns'];
  if (typeof columns !== 'object' || columns === null || !(`${TABLE_GLOB}.email` in columns)) fail(`profile "${name}" has no column rule for ${TABLE_GLOB}.email`);
  return profile;
}

export function readExampleMaskingProfile(root: string, group: string): Record<string, unknown> {
  return exampleMaskingProfile(parse(readFileSync(path.join(root, EXAMPLE_CONFIG), 'utf8')), group);
}
