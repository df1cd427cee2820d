/**
 * What front doors tell the recorder. Every method is synchronous and durable when it
 * returns (invariant 2: an operation's event is written before it is forwarded); a
 * failure throws RecorderError and the caller must refuse the operation (fail closed).
 */
import type { Identity } from '../identity/identity.js';

/** The front door a session came through. */
export type RecordedProtocol = 'postgres' | 'ssh';

export type EndedBy = 'client' | 'token-expiry' | 'access-expiry' | 'upstream' | 'shutdown' | 'gateway-error' | 'refused' | 'crash';

export interface SessionStartEvent {
  readonly sessionId: string;
  readonly protocol: RecordedProtocol;
  readonly connection: string;
  readonly identity: Pick<Identity, 'subject' | 'clientId' | 'groups'>;
  readonly clientAddress: string;
  readonly tls: boolean;
}

export interface OperationEvent {
  readonly sessionId: string;
  /** `simple-query`, `parse`, … */
  readonly via: string;
  /** Exact statement text. */
  readonly text: string;
  /** Bind parameters, for executions of prepared statements (`via: bind`). */
  readonly parameters?: readonly RecordedParameter[];
  readonly effect: 'allow' | 'deny' | 'review';
  readonly rule: string;
  readonly reason: string;
  /** Inspector facts, as JSON-serializable data. */
  readonly facts?: unknown;
}

/**
 * A bind parameter as recorded: text-format values as their text, binary-format values (and
 * text that is not valid UTF-8) as base64, SQL NULL as null.
 */
export type RecordedParameter = string | null | { readonly base64: string };

/**
 * A result value sampled into the recording (a connection's `record: { result_rows }`), as the
 * agent received it (masked): recorded like a parameter, or, when longer than the recording's
 * per-value limit, only its start, marked with the full value's size so nobody mistakes it for
 * the whole value.
 */
export type RecordedValue = RecordedParameter | TruncatedText | TruncatedBinary;

/** The first characters of a longer text value; `totalChars` is its full length (UTF-16 code units). */
export interface TruncatedText {
  readonly text: string;
  readonly totalChars: number;
}

/** The first bytes (as base64) of a longer binary or non-UTF-8 value; `totalBytes` is its full size. */
export interface TruncatedBinary {
  readonly base64: string;
  readonly totalBytes: number;
}

/** Characters a sampled value holds (its text or base64), to bound what samples keep in memory. */
export function recordedValueChars(value: RecordedValue): number {
  if (value === null) return 0;
  if (typeof value === 'string') return value.length;
  return 'text' in value ? value.text.length : value.base64.length;
}

export interface OutcomeEvent {
  readonly sessionId: string;
  /** The `seq` returned by `operation()`. */
  readonly operationSeq: number;
  /** CommandComplete tag, e.g. `SELECT 5`, `DELETE 2`. */
  readonly command?: string;
  readonly rows?: number;
  readonly bytes?: number;
  readonly columns?: readonly string[];
  /**
   * The first result rows the agent received (masked), one value per column of `columns`, when
   * the connection records result rows and the execution returned any. `rows` counts them all:
   * fewer here means only the first were recorded.
   */
  readonly resultRows?: readonly (readonly RecordedValue[])[];
  readonly durationMs: number;
  readonly error?: { readonly code: string; readonly message: string };
}

/**
 * What an SSH terminal showed, in asciicast's event codes: `o` output the agent received
 * (stdout and stderr as a terminal shows them, masked), `i` input the agent sent, `r` the
 * terminal size as `COLSxROWS`, `x` the exit status (a decimal number, or the signal name).
 */
export type TerminalCode = 'o' | 'i' | 'r' | 'x';

/** Some of an operation's terminal data, `offsetMs` after the operation's first terminal event. */
export type TerminalPiece = readonly [offsetMs: number, text: string];

/**
 * Terminal I/O of one SSH operation (a command or a shell), coalesced: consecutive pieces of
 * one code, each with its offset from `start`, so replay keeps the pacing.
 */
export interface TerminalDataEvent {
  readonly sessionId: string;
  /** The `seq` returned by `operation()` for the command or shell. */
  readonly operationSeq: number;
  /** Epoch ms of the operation's first terminal event: every piece's offset counts from it. */
  readonly start: number;
  readonly code: TerminalCode;
  /** At least one, offsets non-decreasing. */
  readonly pieces: readonly TerminalPiece[];
}

/**
 * Recorded instead of output and input beyond the recording's per-operation limit, so nobody
 * mistakes a cut recording for the whole one: how many bytes (UTF-8) were not recorded.
 */
export interface TerminalOmittedEvent {
  readonly sessionId: string;
  readonly operationSeq: number;
  readonly start: number;
  readonly code: 'omitted';
  /** Offset (from `start`) of the first byte not recorded. */
  readonly offsetMs: number;
  readonly omittedBytes: number;
  /** The limit that applied: bytes of output and input recorded per operation. */
  readonly limitBytes: number;
}

export type TerminalEvent = TerminalDataEvent | TerminalOmittedEvent;

export interface SessionEndEvent {
  readonly sessionId: string;
  readonly endedBy: EndedBy;
  readonly reason: string;
}

export interface AuthFailureEvent {
  readonly protocol: RecordedProtocol;
  readonly clientAddress: string;
  /** Requested connection name (may not exist). */
  readonly connection: string;
  /** Subject when the token verified but access was refused. */
  readonly subject?: string;
  readonly reason: string;
}

/**
 * One step of a just-in-time approval request (requested, approved, denied, expired,
 * redeemed, …), recorded as a global audit entry so every step is tamper-evident.
 */
export interface ApprovalEvent {
  /** The approval request's id. */
  readonly requestId: string;
  /** The step, e.g. `requested`, `approved`, `denied`, `expired`, `redeemed`. */
  readonly kind: string;
  /** What to record about the step (JSON-serializable). */
  readonly payload: unknown;
}

export interface Recorder {
  sessionStarted(event: SessionStartEvent): void;
  /** Returns the event's sequence number within the session. */
  operation(event: OperationEvent): number;
  outcome(event: OutcomeEvent): void;
  /** Like `outcome`, nobody waits for it to be durable (a failed write is kept and written again). */
  terminal(event: TerminalEvent): void;
  sessionEnded(event: SessionEndEvent): void;
  authFailure(event: AuthFailureEvent): void;
  /** Nobody waits for it to be durable: under group commit a failed write is kept and written again, like `authFailure`. */
  approvalEvent(event: ApprovalEvent): void;
  /**
   * Calls back once everything recorded so far is durable (`true`), or could not be made
   * durable (`false`: what depended on it must not be forwarded). Writes made in one
   * event-loop turn are committed together (group commit); with nothing pending the
   * callback runs at once.
   */
  whenDurable(callback: (durable: boolean) => void): void;
  close(): void;
}

export class RecorderError extends Error {
  override readonly name = 'RecorderError';
}
