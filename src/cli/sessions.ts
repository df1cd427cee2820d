/**
 * `portcullis sessions list|show|export`: reads the recordings in the data directory,
 * read-only (safe while the gateway runs: SQLite WAL gives a consistent snapshot).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DurationError, parseDuration } from '../config/duration.js';
import { RecorderError } from '../recording/recorder.js';
import {
  decodeEvent,
  findSession,
  listSessions,
  type DecodedEvent,
  type SessionFilter,
  type SessionReader,
  type SessionSummary,
} from '../recording/session-query.js';
import { DATABASE_FILE, SqliteStore } from '../recording/sqlite-store.js';
import type { EventRow } from '../recording/store.js';
import { ExitCode, type CliArgs, type CliCommand, type CliIo } from './command.js';
import { DATA_DIR_FLAGS, DATA_DIR_OPTIONS, resolveDataDir, usageError } from './data-dir.js';
import { visible, visibleLines } from '../recording/printable.js';
import { resultRowLines } from '../recording/replay-timeline.js';
import { AsciicastError, operationAsciicast, sessionAsciicast } from '../recording/asciicast.js';
import { terminalSummaries, terminalSummaryLines } from '../recording/terminal-summary.js';
import { operationLabel } from '../recording/terminal-timeline.js';

const LIST_USAGE = `Usage: portcullis sessions list [--config FILE | --data-dir DIR]
                               [--connection NAME] [--subject SUBJECT]
                               [--since DURATION|TIME] [--decision allow|deny|review]
                               [--json]

Lists the recorded sessions, oldest first: one line each with its id, start time
(UTC), duration (or "open" while it runs), connection, subject, client id, the
number of statements and how many of them were refused, and what ended it
(client, token-expiry, access-expiry, upstream, shutdown, gateway-error,
refused, crash).

Reads the data directory read-only: safe while the gateway runs.

Options:
${DATA_DIR_OPTIONS}
      --connection NAME  only sessions on this connection
      --subject SUBJECT  only sessions of this identity subject
      --since WHEN       only sessions started at or after WHEN: a duration back from
                         now ("30m", "24h", "7d", "1h30m") or an ISO 8601 time
                         ("2025-01-31", "2025-01-31T09:00:00Z")
      --decision EFFECT  only sessions with at least one statement decided EFFECT
                         (allow, deny or review)
      --json             print a JSON array of session summaries instead
  -h, --help             show this help

Exit status: 0 listed (also when nothing matches); 1 no recordings or an unreadable
database; 2 bad command line or invalid config.

Examples:
  portcullis sessions list --config /etc/portcullis/portcullis.yaml --since 24h
  portcullis sessions list -d /var/lib/portcullis --connection prod --decision deny
  portcullis sessions list -d /var/lib/portcullis --subject agent-7 --json | jq '.[].id'
`;

const SHOW_USAGE = `Usage: portcullis sessions show ID... [--config FILE | --data-dir DIR] [--json]

Prints a recorded session as a readable transcript: who connected, from where and
to which connection; then every statement with its time since the session started,
the decision (ALLOW, DENY or REVIEW, the rule that decided and, for refusals, why),
and its outcome (command tag, rows, bytes, duration, or the error) with, when the
connection records result rows (record: { result_rows: N }), the first rows as the
agent received them (masked) in a psql-like table; then how the session ended. Give
several ids to print several sessions.

For SSH sessions, each command and shell is followed by a summary of its recorded
terminal data: the first lines of output as a terminal showed them ("| " lines,
escape sequences removed), then the lines and bytes of output, bytes of input, the
window size, the exit status, and how many bytes were NOT RECORDED when the output
went over the recording's per-command limit. "portcullis replay" plays it all back;
"sessions export --format asciicast" exports it for asciinema.

In the tables NULL is shown as NULL, binary values as \\x and hex, values longer
than 40 characters (or cut when recorded) end in "…"; --json has them as recorded.

Reads the data directory read-only: safe while the gateway runs (an open session
shows what has been recorded so far).

Options:
${DATA_DIR_OPTIONS}
      --json             print the events as a JSON array instead (payloads parsed,
                         recorded result rows under "resultRows"; for the exact,
                         hash-verifiable rows use "sessions export")
  -h, --help             show this help

Exit status: 0 printed; 1 a session id is not recorded (the others are printed), no
recordings, or an unreadable database; 2 bad command line or invalid config.

Examples:
  portcullis sessions show 3f2a9c… --config /etc/portcullis/portcullis.yaml
  portcullis sessions show 3f2a9c… 77b0e1… -d /var/lib/portcullis
  portcullis sessions show 3f2a9c… -d /var/lib/portcullis --json | jq '.[] | select(.type == "operation")'
`;

const EXPORT_USAGE = `Usage: portcullis sessions export ID... [--format jsonl] [--config FILE | --data-dir DIR]
       portcullis sessions export ID --format asciicast [--operation SEQ]
                                     [--config FILE | --data-dir DIR]

--format jsonl (the default) writes every event of the given sessions to stdout,
one JSON object per line, in order: sessionId, seq, time (epoch milliseconds), type
(session-start, operation, outcome, terminal, session-end), payload, prevHash and
hash. The payload is the exact JSON text that was hashed (a string, not an object),
so the chain can be recomputed from the export: hash = SHA-256 over the event as
"portcullis audit verify" does.

--format asciicast writes the terminal recording of one SSH session as an asciicast
v3 file, for asciinema ("asciinema play FILE") and its web player: the output the
agent saw (masked), its input, window sizes, with the original timing. The whole
session is one recording in which every command and shell is a marker labelled with
its command line (and its decision when it was not allowed), and exit statuses are
markers too; with --operation SEQ, only that command or shell (SEQ is the seq of its
operation event: see "sessions show --json"), its command line in the header and its
exit status as the final "x" event. Output over the recording's per-command limit was
not recorded: a marker says how many bytes. The window size is the first one
recorded, 80x24 when none was (no terminal was requested).

Reads the data directory read-only: safe while the gateway runs.

Options:
${DATA_DIR_OPTIONS}
  -f, --format FORMAT    jsonl (the default) or asciicast
      --operation SEQ    with --format asciicast: only the command or shell whose
                         operation event is SEQ
  -h, --help             show this help

Exit status: 0 exported; 1 a session id is not recorded (the others are exported),
no recordings, an unreadable database, or (asciicast) not an SSH session or SEQ not
one of its operations; 2 bad command line or invalid config.

Examples:
  portcullis sessions export 3f2a9c… --format jsonl -d /var/lib/portcullis > 3f2a9c.jsonl
  portcullis sessions export 3f2a9c… -c portcullis.yaml | jq -c 'select(.type == "operation") | .payload | fromjson | .text'
  portcullis sessions export 3f2a9c… --format asciicast -d /var/lib/portcullis > 3f2a9c.cast
  portcullis sessions export 3f2a9c… -f asciicast --operation 4 -d /var/lib/portcullis | asciinema play -
`;

const DECISIONS = ['allow', 'deny', 'review'] as const;

export const sessionsListCommand: CliCommand = {
  name: 'sessions list',
  summary: 'List recorded sessions (filter by connection, subject, time, decision)',
  usage: LIST_USAGE,
  options: {
    ...DATA_DIR_FLAGS,
    connection: { type: 'string' },
    subject: { type: 'string' },
    since: { type: 'string' },
    decision: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(args: CliArgs, io: CliIo): Promise<ExitCode> {
    const command = 'sessions list';
    if (args.positionals.length > 0) return usageError(io, command, `unexpected argument "${args.positionals[0]}"`);
    const filter: { -readonly [K in keyof SessionFilter]: SessionFilter[K] } = {};
    const connection = stringOf(args.values['connection']);
    const subject = stringOf(args.values['subject']);
    if (connection !== undefined) filter.connection = connection;
    if (subject !== undefined) filter.subject = subject;
    const since = stringOf(args.values['since']);
    if (since !== undefined) {
      const at = parseSince(since, Date.now());
      if (typeof at === 'string') return usageError(io, command, at);
      filter.since = at;
    }
    const decision = stringOf(args.values['decision']);
    if (decision !== undefined) {
      if (!(DECISIONS as readonly string[]).includes(decision)) return usageError(io, command, `--decision ${JSON.stringify(decision)}: expected allow, deny or review`);
      filter.decision = decision as (typeof DECISIONS)[number];
    }
    return withStore(args, io, command, (store) => {
      const sessions = listSessions(store, filter);
      if (args.values['json'] === true) {
        io.out(`${JSON.stringify(sessions.map(jsonSummary), null, 2)}\n`);
      } else if (sessions.length === 0) {
        io.err(Object.keys(filter).length === 0 ? 'no sessions recorded yet\n' : 'no sessions match\n');
      } else {
        io.out(sessionTable(sessions, terminalWidth()));
      }
      return ExitCode.ok;
    });
  },
};

export const sessionsShowCommand: CliCommand = {
  name: 'sessions show',
  summary: 'Print a recorded session as a readable transcript',
  usage: SHOW_USAGE,
  options: { ...DATA_DIR_FLAGS, json: { type: 'boolean' } },
  async run(args: CliArgs, io: CliIo): Promise<ExitCode> {
    const command = 'sessions show';
    if (args.positionals.length === 0) return usageError(io, command, 'give the id of the session to show (see "portcullis sessions list")');
    const json = args.values['json'] === true;
    return withStore(args, io, command, (store, database) => {
      const all: unknown[] = [];
      const texts: string[] = [];
      const missing = forEachSession(store, args.positionals, (summary, events) => {
        if (json) all.push(...events.map(jsonEvent));
        else texts.push(transcript(summary, events));
      });
      if (json) io.out(`${JSON.stringify(all, null, 2)}\n`);
      else if (texts.length > 0) io.out(texts.join('\n'));
      return reportMissing(io, command, database, missing);
    });
  },
};

export const sessionsExportCommand: CliCommand = {
  name: 'sessions export',
  summary: 'Export recorded sessions as JSON lines (hashes included), or SSH terminals as asciicast',
  usage: EXPORT_USAGE,
  options: { ...DATA_DIR_FLAGS, format: { type: 'string', short: 'f' }, operation: { type: 'string' } },
  async run(args: CliArgs, io: CliIo): Promise<ExitCode> {
    const command = 'sessions export';
    if (args.positionals.length === 0) return usageError(io, command, 'give the id of the session to export (see "portcullis sessions list")');
    const format = stringOf(args.values['format']) ?? 'jsonl';
    if (format !== 'jsonl' && format !== 'asciicast') return usageError(io, command, `--format ${JSON.stringify(format)}: expected "jsonl" or "asciicast"`);
    const operation = stringOf(args.values['operation']);
    if (format === 'asciicast') return exportAsciicast(args, io, operation);
    if (operation !== undefined) return usageError(io, command, '--operation is for --format asciicast (the jsonl export has every event; filter it with jq)');
    return withStore(args, io, command, (store, database) => {
      const missing = forEachSession(store, args.positionals, (_summary, events) => {
        if (events.length > 0) io.out(events.map((event) => `${JSON.stringify(exportRow(event))}\n`).join(''));
      });
      return reportMissing(io, command, database, missing);
    });
  },
};

/** `sessions export --format asciicast`: one SSH session, or one of its operations. */
async function exportAsciicast(args: CliArgs, io: CliIo, operation: string | undefined): Promise<ExitCode> {
  const command = 'sessions export';
  const [id, extra] = args.positionals;
  if (extra !== undefined) return usageError(io, command, `unexpected argument "${extra}": --format asciicast exports one session at a time`);
  const seq = operation === undefined ? undefined : /^[1-9]\d{0,15}$/.test(operation) ? Number(operation) : NaN;
  if (Number.isNaN(seq)) return usageError(io, command, `--operation ${JSON.stringify(operation)}: expected the seq of an operation event (a number, see "sessions show --json")`);
  return withStore(args, io, command, (store, database) => {
    const found = findSession(store, id as string);
    if (found === undefined) return reportMissing(io, command, database, [id as string]);
    const events = found.events.map(decodeEvent);
    try {
      io.out(seq === undefined ? sessionAsciicast(events) : operationAsciicast(events, seq));
    } catch (error) {
      if (!(error instanceof AsciicastError)) throw error;
      io.err(`portcullis ${command}: cannot export session ${JSON.stringify(id)} as asciicast: ${error.message}\n`);
      return ExitCode.failure;
    }
    return ExitCode.ok;
  });
}

/** Resolves the data directory, opens the store read-only in one snapshot, and turns store errors into exit 1. */
export async function withStore(
  args: CliArgs,
  io: CliIo,
  command: string,
  fn: (store: SessionReader, database: string) => ExitCode,
): Promise<ExitCode> {
  const dataDir = await resolveDataDir(args, io, command);
  if (typeof dataDir !== 'string') return dataDir;
  const database = join(dataDir, DATABASE_FILE);
  if (!existsSync(database)) {
    io.err(`portcullis ${command}: no recordings in ${dataDir} (no ${DATABASE_FILE}): is the data directory right? The gateway creates it at its first start.\n`);
    return ExitCode.failure;
  }
  try {
    const store = SqliteStore.open(dataDir, { readonly: true });
    try {
      return store.snapshot(() => fn(store, database));
    } finally {
      store.close();
    }
  } catch (error) {
    if (!(error instanceof RecorderError)) throw error;
    io.err(`portcullis ${command}: ${error.message}\n`);
    return ExitCode.failure;
  }
}

/** Calls `fn` for each recorded id, in the order given; returns the ids not recorded. */
function forEachSession(store: SessionReader, ids: readonly string[], fn: (summary: SessionSummary, events: EventRow[]) => void): string[] {
  const missing: string[] = [];
  for (const id of ids) {
    const found = findSession(store, id);
    if (found === undefined) missing.push(id);
    else fn(found.summary, found.events);
  }
  return missing;
}

export function reportMissing(io: CliIo, command: string, database: string, missing: readonly string[]): ExitCode {
  for (const id of missing) {
    io.err(`portcullis ${command}: no session ${JSON.stringify(id)} in ${database} (see "portcullis sessions list")\n`);
  }
  return missing.length === 0 ? ExitCode.ok : ExitCode.failure;
}

/** `--since`: a duration back from `now`, or an ISO 8601 date/time; a message when it is neither. */
export function parseSince(value: string, now: number): number | string {
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const at = Date.parse(value);
    return Number.isNaN(at) ? `--since ${JSON.stringify(value)}: not a valid ISO 8601 time (e.g. 2025-01-31 or 2025-01-31T09:00:00Z)` : at;
  }
  try {
    return now - parseDuration(value);
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
    return `--since ${JSON.stringify(value)}: expected a duration back from now ("30m", "24h", "7d") or an ISO 8601 time ("2025-01-31T09:00:00Z")`;
  }
}

/** The terminal's width when stdout is one; undefined (no truncation) when piped. */
function terminalWidth(): number | undefined {
  return process.stdout.isTTY ? process.stdout.columns : undefined;
}

const HEADERS = ['ID', 'STARTED (UTC)', 'DURATION', 'CONNECTION', 'SUBJECT', 'CLIENT', 'STMTS', 'REFUSED', 'ENDED BY'] as const;
/** Columns shrunk (with "…") when the table is wider than the terminal, in this order. */
const SHRINKABLE = [5, 4, 0, 3] as const;
const RIGHT_ALIGNED = new Set([6, 7]);
const MIN_SHRUNK = 6;

/** The list as a table fitted to `width` columns (when given): the widest shrinkable columns are cut with "…". */
export function sessionTable(sessions: readonly SessionSummary[], width: number | undefined): string {
  const rows = sessions.map((s) => [
    s.id,
    formatTime(s.startedAt),
    s.endedAt === null ? 'open' : formatElapsed(s.endedAt - s.startedAt),
    s.connection,
    s.subject,
    s.clientId ?? '-',
    String(s.statements),
    String(s.refused),
    s.endedBy ?? '-',
  ]);
  const widths = HEADERS.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] as string).length)));
  if (width !== undefined) {
    const total = (): number => widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.length - 1);
    while (total() > width) {
      const column = [...SHRINKABLE].filter((i) => (widths[i] as number) > MIN_SHRUNK).sort((a, b) => (widths[b] as number) - (widths[a] as number))[0];
      if (column === undefined) break;
      widths[column] = Math.max(MIN_SHRUNK, (widths[column] as number) - (total() - width));
    }
  }
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const w = widths[i] as number;
        const text = cell.length > w ? `${cell.slice(0, w - 1)}…` : cell;
        return RIGHT_ALIGNED.has(i) ? text.padStart(w) : text.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  return `${[line(HEADERS), ...rows.map(line)].join('\n')}\n`;
}

/** The readable transcript of one session. */
export function transcript(summary: SessionSummary, events: readonly EventRow[]): string {
  const lines: string[] = [];
  const client = summary.clientId === null ? '' : `, client ${summary.clientId}`;
  const groups = summary.groups.length === 0 ? '' : `, groups ${summary.groups.join(', ')}`;
  lines.push(visible(`Session ${summary.id}: ${summary.subject}${client}${groups}`));
  // SSH is always encrypted; TLS is a PostgreSQL connection's choice.
  const tls = summary.protocol === 'ssh' ? '' : summary.tls === true ? ' (TLS)' : summary.tls === false ? ' (no TLS)' : '';
  const from = summary.clientAddress === null ? '' : ` from ${summary.clientAddress}${tls}`;
  lines.push(`  connection ${summary.connection} (${summary.protocol})${from}`);
  const ended =
    summary.endedAt === null
      ? 'still open'
      : `ended ${formatTime(summary.endedAt)} by ${summary.endedBy ?? '?'} after ${formatElapsed(summary.endedAt - summary.startedAt)}`;
  lines.push(
    `  started ${formatTime(summary.startedAt)}, ${ended}; ${plural(summary.statements, summary.protocol === 'ssh' ? 'operation' : 'statement')}, ${summary.refused} refused`,
    '',
  );
  const decoded = events.map(decodeEvent);
  const terminals = terminalSummaries(decoded);
  const start = summary.startedAt;
  const stamp = (time: number): string => `+${((time - start) / 1000).toFixed(3)}s`.padStart(10);
  const indent = ' '.repeat(10 + 2 + 6 + 2);
  for (const [index, row] of events.entries()) {
    const event = decoded[index] as DecodedEvent;
    switch (event.type) {
      case 'session-start':
        break;
      case 'operation': {
        const { effect, rule, reason, text, parameters } = event.data;
        const why = effect === 'allow' ? `rule ${rule}` : `rule ${rule}: ${reason}`;
        lines.push(`${stamp(row.time)}  ${effect.toUpperCase().padEnd(6)}  [${visible(why)}]`);
        for (const textLine of visibleLines(summary.protocol === 'ssh' ? operationLabel(event.data) : text)) lines.push(`${indent}${textLine}`);
        if (parameters !== undefined && parameters.length > 0) {
          lines.push(`${indent}parameters: ${visible(parameters.map((p, i) => `$${i + 1}=${p === null ? 'NULL' : JSON.stringify(p)}`).join(', '))}`);
        }
        const terminal = terminals.get(row.seq);
        if (terminal !== undefined) for (const line of terminalSummaryLines(terminal)) lines.push(`${indent}${line}`);
        break;
      }
      case 'terminal':
        // Summarized under its operation.
        break;
      case 'outcome': {
        const o = event.data;
        const parts: string[] = [];
        if (o.error !== undefined) parts.push(`ERROR ${visible(o.error.code)}: ${visible(o.error.message)}`);
        else if (o.command !== undefined) parts.push(o.command);
        if (o.rows !== undefined) parts.push(plural(o.rows, 'row'));
        if (o.bytes !== undefined) parts.push(plural(o.bytes, 'byte'));
        parts.push(`${o.durationMs} ms`);
        lines.push(`${stamp(row.time)}  ${''.padEnd(6)}  → ${parts.join(', ')}`);
        for (const rowLine of resultRowLines(o)) lines.push(`${indent}${rowLine}`);
        break;
      }
      case 'session-end':
        lines.push(`${stamp(row.time)}  ${'END'.padEnd(6)}  by ${event.data.endedBy}: ${visible(event.data.reason)}`);
        break;
    }
  }
  if (summary.endedAt === null) lines.push(`${''.padStart(10)}  (open: recorded so far)`);
  return `${lines.join('\n')}\n`;
}

function jsonSummary(s: SessionSummary): Record<string, unknown> {
  return {
    ...s,
    startedAt: new Date(s.startedAt).toISOString(),
    endedAt: s.endedAt === null ? null : new Date(s.endedAt).toISOString(),
    durationMs: s.endedAt === null ? null : s.endedAt - s.startedAt,
  };
}

function jsonEvent(row: EventRow): Record<string, unknown> {
  return { sessionId: row.sessionId, seq: row.seq, time: new Date(row.time).toISOString(), type: row.type, payload: JSON.parse(row.payload) as unknown };
}

/** Exactly the stored row (payload as hashed text), in a fixed key order. */
function exportRow(row: EventRow): EventRow {
  return { sessionId: row.sessionId, seq: row.seq, time: row.time, type: row.type, payload: row.payload, prevHash: row.prevHash, hash: row.hash };
}

/** `2025-01-01 09:30:05Z` */
function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** `850ms`, `7s`, `1m30s`, `2h5m`, `3d4h`: two units at most. */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.max(0, ms)}ms`;
  const units = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const;
  let rest = Math.round(ms / 1000) * 1000;
  const parts: string[] = [];
  for (const [unit, size] of units) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0 || parts.length > 0) parts.push(`${count}${unit}`);
    if (parts.length === 2) break;
  }
  return parts.filter((p, i) => i === 0 || !p.startsWith('0')).join('');
}

function plural(count: number, singular: string): string {
  return `${count} ${count === 1 ? singular : `${singular}s`}`;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
