/**
 * A recorded session as a psql-like transcript with its original pacing, for
 * `portcullis replay`. Pure: the steps carry their delays, so pacing is tested exactly
 * and the command only sleeps and prints.
 *
 * Recorded text is the agent's (statements, parameters) or the target's (error messages,
 * result rows): control characters and bidirectional overrides are shown escaped, so a
 * recording cannot drive the auditor's terminal or disguise a statement.
 */
import type { RecordedParameter, RecordedValue } from './recorder.js';
import type { DecodedEvent, EndPayload, OperationPayload, OutcomePayload, StartPayload } from './session-query.js';
import { UNSAFE, visible, visibleLines } from './printable.js';

export interface ReplayStep {
  /** How long to wait before printing this step: the recorded gap since the previous step divided by the speed, capped. */
  readonly delayMs: number;
  /** The event shown (for `sessions export`), or null for the closing note of a session still open. */
  readonly seq: number | null;
  /** One or more lines, without a final newline; or, with `terminal`, recorded terminal output. */
  readonly text: string;
  /** The text is terminal output (made safe, see terminal-text.ts): printed as it is, no newline added. */
  readonly terminal?: true;
}

export interface ReplayPacing {
  /** Greater than 0: 2 plays twice as fast. */
  readonly speed: number;
  /** The longest wait between two steps, in ms, at least 0 (asciinema's idle limit); Infinity for none. */
  readonly maxIdleMs: number;
}

/** `speed` or `maxIdleMs` out of range (the CLI checks both first; this guards other callers). */
export class ReplayPacingError extends RangeError {
  override readonly name = 'ReplayPacingError';
}

/** The steps of one session's events (in seq order): a header, each statement and outcome, and the end. */
export function replayTimeline(events: readonly DecodedEvent[], pacing: ReplayPacing): ReplayStep[] {
  checkPacing(pacing);
  const steps: ReplayStep[] = [];
  const operations = new Map<number, OperationPayload>();
  let prompt = '?';
  let startedAt: number | undefined;
  let previous: DecodedEvent | undefined;
  let ended = false;
  for (const event of events) {
    // Terminal data belongs to SSH sessions (see terminal-replay.ts).
    if (event.type === 'terminal') continue;
    const delayMs = pacedDelay(previous?.time, event.time, pacing);
    let lines: string[];
    switch (event.type) {
      case 'session-start':
        prompt = visible(event.data.connection);
        startedAt = event.time;
        lines = headerLines(event.sessionId, event.time, event.data);
        break;
      case 'operation':
        operations.set(event.seq, event.data);
        lines = ['', ...operationLines(prompt, event.data)];
        break;
      case 'outcome': {
        const { operationSeq } = event.data;
        // Pipelined statements are answered later: say which statement a result belongs to.
        const follows = previous?.type === 'operation' && previous.seq === operationSeq;
        lines = [...(follows ? [] : [resultOf(operationSeq, operations.get(operationSeq))]), ...outcomeLines(event.data)];
        break;
      }
      case 'session-end':
        ended = true;
        lines = ['', endLine(event.time, startedAt, event.data)];
        break;
    }
    steps.push({ delayMs, seq: event.seq, text: lines.join('\n') });
    previous = event;
  }
  if (!ended && events.length > 0) steps.push({ delayMs: 0, seq: null, text: STILL_OPEN });
  return steps;
}

export const STILL_OPEN = '\n(session still open: replayed what is recorded so far)';

/** Throws ReplayPacingError when `speed` or `maxIdleMs` is out of range. */
export function checkPacing(pacing: ReplayPacing): void {
  if (!(pacing.speed > 0 && Number.isFinite(pacing.speed))) throw new ReplayPacingError(`replay speed must be a finite number greater than 0, got ${pacing.speed}`);
  if (!(pacing.maxIdleMs >= 0)) throw new ReplayPacingError(`replay idle limit must be 0 ms or more, got ${pacing.maxIdleMs}`);
}

/** The wait before something recorded at `time`, after what was shown at `previous`: the gap divided by the speed, capped. */
export function pacedDelay(previous: number | undefined, time: number, pacing: ReplayPacing): number {
  const gap = previous === undefined ? 0 : Math.max(0, time - previous);
  return Math.round(Math.min(gap / pacing.speed, pacing.maxIdleMs));
}

export function headerLines(sessionId: string, time: number, start: StartPayload): string[] {
  const { subject, clientId, groups } = start.identity;
  const client = clientId === null ? '' : `, client ${visible(clientId)}`;
  const groupList = groups.length === 0 ? '' : `, groups ${groups.map(visible).join(', ')}`;
  // SSH is always encrypted; TLS is a PostgreSQL connection's choice.
  const tls = start.protocol === 'ssh' ? '' : `, ${start.tls ? 'TLS' : 'no TLS'}`;
  return [
    `Session ${visible(sessionId)}: ${visible(subject)}${client}${groupList}`,
    `connection ${visible(start.connection)} (${visible(start.protocol)}) from ${visible(start.clientAddress)}${tls}`,
    `started ${new Date(time).toISOString()}`,
  ];
}

/** `prod=> first line`, `prod-> next line` (psql's prompts), then parameters and a refusal. */
function operationLines(prompt: string, operation: OperationPayload): string[] {
  const lines = visibleLines(operation.text).map((line, i) => `${prompt}${i === 0 ? '=>' : '->'} ${line}`);
  const { parameters, effect, rule, reason } = operation;
  if (parameters !== undefined && parameters.length > 0) {
    lines.push(`parameters: ${parameters.map((value, i) => `$${i + 1} = ${sqlLiteral(value)}`).join(', ')}`);
  }
  if (effect === 'deny') lines.push(`DENIED by rule ${visible(rule)}: ${visible(reason)}`);
  if (effect === 'review') lines.push(`HELD FOR REVIEW by rule ${visible(rule)}: ${visible(reason)}`);
  return lines;
}

const RESULT_OF_WIDTH = 60;

function resultOf(operationSeq: number, operation: OperationPayload | undefined): string {
  if (operation === undefined) return `(result of event ${operationSeq}: no such statement recorded)`;
  const lines = visibleLines(operation.text);
  let first = lines[0] ?? '';
  if (lines.length > 1 || first.length > RESULT_OF_WIDTH) first = `${first.slice(0, RESULT_OF_WIDTH)}…`;
  return `(result of: ${first})`;
}

/** Tags psql does not print: the row count stands for them. */
const ROWS_TAG = /^(SELECT|FETCH|SHOW)\b/;

/**
 * As psql prints it: the recorded rows (if any), `(N rows)` for a result set, the command tag
 * otherwise, or the error; then the time.
 */
function outcomeLines(outcome: OutcomePayload): string[] {
  const { error, command, rows, columns, durationMs } = outcome;
  const lines = resultRowLines(outcome);
  if (error !== undefined) {
    lines.push(`ERROR:  ${visible(error.code)}: ${visible(error.message)}`);
  } else {
    const resultSet = columns !== undefined || (command === undefined ? rows !== undefined : ROWS_TAG.test(command));
    if (resultSet) lines.push(`(${rows ?? 0} ${rows === 1 ? 'row' : 'rows'})`);
    if (command !== undefined && !ROWS_TAG.test(command)) lines.push(visible(command));
  }
  lines.push(`Time: ${durationMs} ms`);
  return lines;
}

export function endLine(time: number, startedAt: number | undefined, end: EndPayload): string {
  const after = startedAt === undefined ? '' : `, after ${((time - startedAt) / 1000).toFixed(3)}s`;
  return `Session ended by ${visible(end.endedBy)}: ${visible(end.reason)} (${new Date(time).toISOString()}${after})`;
}

/**
 * A bind parameter as PostgreSQL would read it: `'text'` with quotes doubled, or an escape
 * string `E'…'` when it holds characters that must not reach the terminal raw.
 */
function sqlLiteral(value: RecordedParameter): string {
  if (value === null) return 'NULL';
  // Binary (or non-UTF-8) values are recorded as base64: shown as the expression that decodes them.
  if (typeof value === 'object') return `decode('${visible(value.base64)}', 'base64')`;
  const quoted = value.replaceAll("'", "''");
  return value.search(UNSAFE) === -1 ? `'${quoted}'` : `E'${visible(quoted.replaceAll('\\', '\\\\'))}'`;
}

/** The widest a cell is shown, in characters: longer values end in `…` (`--json` has them as recorded). */
export const MAX_CELL_CHARS = 40;

/**
 * An outcome's recorded result rows as psql prints a result (`\pset format aligned`): centred
 * column names, ` | ` between columns, a `-+-` rule, then one line per row; and, when only the
 * first rows were recorded, `(first N of M rows recorded)`. No lines when none were recorded.
 *
 * Each value is shown on one line, escaped like all recorded text (tabs too, which would break
 * the alignment); NULL as `NULL` (psql shows it empty, which an audit cannot tell from an empty
 * string); binary values as `\x` and hex, like bytea; values longer than MAX_CELL_CHARS, and
 * values cut when recorded, end in `…`. Widths count code points, so double-width characters
 * (CJK, emoji) shift the columns after them.
 */
export function resultRowLines(outcome: OutcomePayload): string[] {
  const rows = outcome.resultRows;
  if (rows === undefined || rows.length === 0) return [];
  const count = Math.max(outcome.columns?.length ?? 0, ...rows.map((row) => row.length));
  if (count === 0) return [];
  const header = Array.from({ length: count }, (_, i) => shorten(cellText(outcome.columns?.[i] ?? '?column?'), false));
  // A row shorter than the others (only a hand-made recording has one) leaves its missing cells empty, not NULL.
  const body = rows.map((row) => Array.from({ length: count }, (_, i) => (i < row.length ? showValue(row[i] as RecordedValue) : '')));
  const widths = header.map((name, i) => Math.max(width(name), ...body.map((cells) => width(cells[i] as string))));
  const line = (cells: readonly string[], pad: (cell: string, w: number) => string): string =>
    ` ${cells.map((cell, i) => pad(cell, widths[i] as number)).join(' | ')}`.trimEnd();
  const lines = [
    line(header, (name, w) => center(name, w)),
    widths.map((w) => '-'.repeat(w + 2)).join('+'),
    ...body.map((cells) => line(cells, (cell, w) => cell + ' '.repeat(w - width(cell)))),
  ];
  const total = outcome.rows ?? rows.length;
  if (rows.length < total) lines.push(`(first ${rows.length} of ${total} rows recorded)`);
  return lines;
}

/** One recorded value as a table cell. */
export function showValue(value: RecordedValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return shorten(cellText(value), false);
  if ('text' in value) return shorten(cellText(value.text), true);
  // `\x` then two hex digits a byte: decode only the bytes that fit the cell.
  const fit = Math.floor((MAX_CELL_CHARS - 3) / 2);
  const bytes = Buffer.from(value.base64.slice(0, Math.ceil((fit + 1) / 3) * 4), 'base64');
  const more = 'totalBytes' in value || bytes.length > fit;
  return `\\x${bytes.subarray(0, fit).toString('hex')}${more ? '…' : ''}`;
}

/** Recorded text as one line of a cell: escaped, tabs included. */
function cellText(text: string): string {
  return visible(text).replaceAll('\t', '\\t');
}

/** At most MAX_CELL_CHARS code points; `…` at the end when cut here or already `cut` when recorded. */
function shorten(text: string, cut: boolean): string {
  const points = [...text];
  if (points.length <= MAX_CELL_CHARS && !cut) return text;
  return `${points.slice(0, MAX_CELL_CHARS - 1).join('')}…`;
}

function width(text: string): number {
  return [...text].length;
}

function center(text: string, w: number): string {
  const space = w - width(text);
  const left = Math.floor(space / 2);
  return ' '.repeat(left) + text + ' '.repeat(space - left);
}
