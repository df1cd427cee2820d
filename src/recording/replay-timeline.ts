/**
 * A recorded session as a psql-like transcript with its original pacing, for
 * `portcullis replay`. Pure: the steps carry their delays, so pacing is tested exactly
 * and the command only sleeps and prints.
 *
 * Recorded text is the agent's (statements, parameters) or the target's (error messages):
 * control characters and bidirectional overrides are shown escaped, so a recording cannot
 * drive the auditor's terminal or disguise a statement.
 */
import type { RecordedParameter } from './recorder.js';
import type { DecodedEvent, EndPayload, OperationPayload, OutcomePayload, StartPayload } from './session-query.js';
import { UNSAFE, visible, visibleLines } from './printable.js';

export interface ReplayStep {
  /** How long to wait before printing this step: the recorded gap since the previous step divided by the speed, capped. */
  readonly delayMs: number;
  /** The event shown (for `sessions export`), or null for the closing note of a session still open. */
  readonly seq: number | null;
  /** One or more lines, without a final newline. */
  readonly text: string;
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
  if (!(pacing.speed > 0 && Number.isFinite(pacing.speed))) throw new ReplayPacingError(`replay speed must be a finite number greater than 0, got ${pacing.speed}`);
  if (!(pacing.maxIdleMs >= 0)) throw new ReplayPacingError(`replay idle limit must be 0 ms or more, got ${pacing.maxIdleMs}`);
  const steps: ReplayStep[] = [];
  const operations = new Map<number, OperationPayload>();
  let prompt = '?';
  let startedAt: number | undefined;
  let previous: DecodedEvent | undefined;
  let ended = false;
  for (const event of events) {
    const gap = previous === undefined ? 0 : Math.max(0, event.time - previous.time);
    const delayMs = Math.round(Math.min(gap / pacing.speed, pacing.maxIdleMs));
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
  if (!ended && events.length > 0) steps.push({ delayMs: 0, seq: null, text: '\n(session still open: replayed what is recorded so far)' });
  return steps;
}

function headerLines(sessionId: string, time: number, start: StartPayload): string[] {
  const { subject, clientId, groups } = start.identity;
  const client = clientId === null ? '' : `, client ${visible(clientId)}`;
  const groupList = groups.length === 0 ? '' : `, groups ${groups.map(visible).join(', ')}`;
  return [
    `Session ${visible(sessionId)}: ${visible(subject)}${client}${groupList}`,
    `connection ${visible(start.connection)} (${visible(start.protocol)}) from ${visible(start.clientAddress)}, ${start.tls ? 'TLS' : 'no TLS'}`,
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

/** As psql prints it: `(N rows)` for a result set, the command tag otherwise, or the error; then the time. */
function outcomeLines(outcome: OutcomePayload): string[] {
  const { error, command, rows, columns, durationMs } = outcome;
  const lines: string[] = [];
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

function endLine(time: number, startedAt: number | undefined, end: EndPayload): string {
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
