/**
 * The stored form of terminal events (an SSH operation's terminal I/O), shared by the recorder
 * (which refuses a malformed one), the verifier (which reports one) and the readers.
 *
 *   data     {"operationSeq":5,"start":1735689600000,"code":"o","pieces":[[0,"total 8\r\n"],[40,"…"]]}
 *   omitted  {"operationSeq":5,"start":1735689600000,"code":"omitted","offsetMs":1500,"omittedBytes":52340,"limitBytes":1048576}
 *
 * `start` is the epoch ms of the operation's first terminal event, the same in all of that
 * operation's events; offsets count from it, so an operation's pacing survives coalescing.
 */
import type { TerminalCode, TerminalDataEvent, TerminalEvent, TerminalOmittedEvent } from './recorder.js';

export type TerminalDataPayload = Omit<TerminalDataEvent, 'sessionId'>;
export type TerminalOmittedPayload = Omit<TerminalOmittedEvent, 'sessionId'>;
/** What a `terminal` event records. */
export type TerminalPayload = TerminalDataPayload | TerminalOmittedPayload;

export const TERMINAL_CODES: readonly TerminalCode[] = ['o', 'i', 'r', 'x'];

/** `COLSxROWS`, as SSH window sizes go (at most 5 digits each). */
export const TERMINAL_SIZE = /^([1-9]\d{0,4})x([1-9]\d{0,4})$/;
/** An exit status: a decimal number or a signal name (printable ASCII, no spaces). */
const EXIT_STATUS = /^[\x21-\x7e]{1,32}$/;

/** The payload of `event`, keys in a fixed order (it is hashed as written). */
export function terminalPayload(event: TerminalEvent): TerminalPayload {
  if (event.code === 'omitted') {
    return {
      operationSeq: event.operationSeq,
      start: event.start,
      code: 'omitted',
      offsetMs: event.offsetMs,
      omittedBytes: event.omittedBytes,
      limitBytes: event.limitBytes,
    };
  }
  return { operationSeq: event.operationSeq, start: event.start, code: event.code, pieces: event.pieces };
}

/** Why `value` is not a well-formed terminal payload, or undefined when it is one. */
export function terminalPayloadProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const payload = value as Record<string, unknown>;
  const { operationSeq, start, code } = payload;
  if (!isCount(operationSeq) || (operationSeq as number) < 2) return `operationSeq ${JSON.stringify(operationSeq)} is not an operation's seq`;
  if (!isCount(start)) return `start ${JSON.stringify(start)} is not a time in epoch milliseconds`;
  if (code === 'omitted') {
    if (!isCount(payload['offsetMs'])) return 'offsetMs is not a number of milliseconds';
    if (!isCount(payload['omittedBytes']) || (payload['omittedBytes'] as number) < 1) return 'omittedBytes is not a positive number of bytes';
    if (!isCount(payload['limitBytes'])) return 'limitBytes is not a number of bytes';
    return undefined;
  }
  if (typeof code !== 'string' || !(TERMINAL_CODES as readonly string[]).includes(code)) return `unknown terminal code ${JSON.stringify(code)}`;
  const pieces = payload['pieces'];
  if (!Array.isArray(pieces) || pieces.length === 0) return 'no pieces';
  let previous = 0;
  for (const piece of pieces as unknown[]) {
    if (!Array.isArray(piece) || piece.length !== 2 || !isCount(piece[0]) || typeof piece[1] !== 'string') return 'a piece is not [offsetMs, text]';
    const [offset, text] = piece as [number, string];
    if (offset < previous) return 'piece offsets go backwards';
    previous = offset;
    if (code === 'r' && !TERMINAL_SIZE.test(text)) return `terminal size ${JSON.stringify(text)} is not COLSxROWS`;
    if (code === 'x' && !EXIT_STATUS.test(text)) return `exit status ${JSON.stringify(text)} is not a number or a signal name`;
  }
  return undefined;
}

function isCount(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}
