/**
 * A recorded SSH session, or one of its operations, as an asciicast v3 file
 * (https://docs.asciinema.org/manual/asciicast/v3/), for `portcullis sessions export
 * --format asciicast`: a header line, then one `[interval, code, data]` line per event, where
 * the interval is the seconds (millisecond precision) since the previous event. Pure.
 *
 * The data is as recorded (what the agent saw, masked), escaped only as JSON requires; a
 * player will interpret its escape sequences, like any asciicast's.
 *
 * One operation: its output (`o`), input (`i`), window sizes (`r`) and exit status (`x`),
 * from its first terminal event on; the command line is the header's `command`.
 * The whole session: every operation is an `m` marker labelled with its command line (and
 * its decision when it was not allowed), between the terminal data of all operations in time
 * order; an exit status is a marker too (`exit 0`), since `x` ends a recording.
 * Either way, data not recorded (over the per-operation limit) is a marker saying how much,
 * and the terminal size is the first recorded one (80x24 when none was).
 */
import type { DecodedEvent, OperationPayload, StartPayload } from './session-query.js';
import { TERMINAL_SIZE } from './terminal-event.js';
import { operationLabel, terminalStart, terminalTimeline, type TimelineItem } from './terminal-timeline.js';

export const DEFAULT_COLS = 80;
export const DEFAULT_ROWS = 24;

export type AsciicastCode = 'o' | 'i' | 'r' | 'm' | 'x';

/** One event: `time` in epoch ms. */
interface CastEvent {
  readonly time: number;
  readonly code: AsciicastCode;
  readonly data: string;
}

/** Nothing to export (no such operation, or not an SSH session). */
export class AsciicastError extends Error {
  override readonly name = 'AsciicastError';
}

/** The whole session's cast. Throws AsciicastError when the events are not an SSH session's. */
export function sessionAsciicast(events: readonly DecodedEvent[]): string {
  const start = events[0];
  if (start?.type !== 'session-start') throw new AsciicastError('the recording does not start with the session start');
  if (start.data.protocol !== 'ssh') throw new AsciicastError(`it is a ${start.data.protocol} session: only SSH sessions have terminal recordings`);
  const items = terminalTimeline(events);
  const cast: CastEvent[] = [];
  for (const item of items) {
    switch (item.kind) {
      case 'operation':
        cast.push({ time: item.time, code: 'm', data: markerLabel(item.data) });
        break;
      case 'terminal':
        cast.push({ time: item.time, code: item.code === 'x' ? 'm' : item.code, data: item.code === 'x' ? `exit ${item.text}` : item.text });
        break;
      case 'omitted':
        cast.push(omittedMarker(item));
        break;
      case 'outcome':
        if (item.data.error !== undefined) cast.push({ time: item.time, code: 'm', data: `${item.data.error.code}: ${item.data.error.message}` });
        break;
      case 'end':
        cast.push({ time: item.time, code: 'm', data: `session ended by ${item.data.endedBy}: ${item.data.reason}` });
        break;
      case 'start':
        break;
    }
  }
  return render({ ...termSize(items), timestamp: start.time, title: sessionTitle(start.sessionId, start.data) }, start.time, cast);
}

/** One operation's cast. Throws AsciicastError when `operationSeq` is not an operation of an SSH session. */
export function operationAsciicast(events: readonly DecodedEvent[], operationSeq: number): string {
  const start = events[0];
  if (start?.type !== 'session-start') throw new AsciicastError('the recording does not start with the session start');
  if (start.data.protocol !== 'ssh') throw new AsciicastError(`it is a ${start.data.protocol} session: only SSH sessions have terminal recordings`);
  const operation = events.find((event) => event.seq === operationSeq);
  if (operation === undefined) throw new AsciicastError(`it has no event ${operationSeq}`);
  if (operation.type !== 'operation') throw new AsciicastError(`its event ${operationSeq} is ${article(operation.type)} ${operation.type}, not an operation`);
  const items = terminalTimeline(events).filter(
    (item): item is Extract<TimelineItem, { kind: 'terminal' | 'omitted' }> => (item.kind === 'terminal' || item.kind === 'omitted') && item.operationSeq === operationSeq,
  );
  const cast = items.map((item): CastEvent => (item.kind === 'omitted' ? omittedMarker(item) : { time: item.time, code: item.code, data: item.text }));
  const base = terminalStart(events, operationSeq) ?? operation.time;
  const header = {
    ...termSize(items),
    timestamp: base,
    ...(operation.data.via === 'exec' ? { command: operation.data.text } : {}),
    title: `${sessionTitle(start.sessionId, start.data)}, operation ${operationSeq}: ${operationLabel(operation.data)}`,
  };
  return render(header, base, cast);
}

interface Header {
  readonly cols: number;
  readonly rows: number;
  /** Epoch ms (written in seconds). */
  readonly timestamp: number;
  readonly command?: string;
  readonly title: string;
}

function render(header: Header, base: number, events: readonly CastEvent[]): string {
  const lines = [
    JSON.stringify({
      version: 3,
      term: { cols: header.cols, rows: header.rows },
      timestamp: Math.floor(header.timestamp / 1000),
      ...(header.command === undefined ? {} : { command: header.command }),
      title: header.title,
    }),
  ];
  let previous = base;
  for (const event of events) {
    const interval = Math.max(0, event.time - previous);
    previous = Math.max(previous, event.time);
    lines.push(`[${(interval / 1000).toFixed(3)},${JSON.stringify(event.code)},${JSON.stringify(event.data)}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** The first recorded window size, or 80x24. */
function termSize(items: readonly TimelineItem[]): { cols: number; rows: number } {
  for (const item of items) {
    if (item.kind !== 'terminal' || item.code !== 'r') continue;
    const size = TERMINAL_SIZE.exec(item.text);
    if (size !== null) return { cols: Number(size[1]), rows: Number(size[2]) };
  }
  return { cols: DEFAULT_COLS, rows: DEFAULT_ROWS };
}

function markerLabel(operation: OperationPayload): string {
  const label = operationLabel(operation);
  if (operation.effect === 'deny') return `${label} [DENIED by rule ${operation.rule}: ${operation.reason}]`;
  if (operation.effect === 'review') return `${label} [HELD FOR REVIEW by rule ${operation.rule}]`;
  return label;
}

function omittedMarker(item: Extract<TimelineItem, { kind: 'omitted' }>): CastEvent {
  return {
    time: item.time,
    code: 'm',
    data: `${item.omittedBytes} more bytes of output and input were not recorded (over the limit of ${item.limitBytes} bytes per command)`,
  };
}

function sessionTitle(sessionId: string, start: StartPayload): string {
  return `Portcullis session ${sessionId}: ${start.identity.subject} on ${start.connection}`;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}
