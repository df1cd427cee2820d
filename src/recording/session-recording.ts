/**
 * One session's view of the recorder, used the same way by every front door: start,
 * one event per decided operation (written before the operation is forwarded), its
 * terminal I/O (SSH; coalesced, written as it goes), its outcome (written after it), end.
 * A recorder failure is returned to the caller, which must refuse the operation — never
 * forward what could not be recorded (fail closed).
 */
import type { Identity } from '../identity/identity.js';
import type { Logger } from '../log.js';
import type { ShellInspection } from '../inspect/shell/facts.js';
import type { SqlInspection } from '../inspect/sql/facts.js';
import type { Decision, Operation } from '../policy/operation.js';
import {
  RecorderError,
  recordedValueChars,
  type EndedBy,
  type OutcomeEvent,
  type Recorder,
  type RecordedParameter,
  type RecordedProtocol,
  type TerminalCode,
} from './recorder.js';
import { DEFAULT_MAX_TERMINAL_BYTES, TerminalCoalescer, type TerminalRecord } from './terminal-coalescer.js';

export const RECORDING_UNAVAILABLE: Decision = {
  effect: 'deny',
  rule: 'recording-unavailable',
  reason:
    'the gateway could not record this operation, so it was not forwarded (nothing runs unrecorded); ' +
    'retry later, and report it to a Portcullis administrator if it persists',
};

/**
 * Outcomes are written after the fact (the operation's own event is what must be durable
 * before forwarding), so they wait to join the next operation's write, or this long.
 */
export const OUTCOME_FLUSH_MS = 100;

/**
 * Waiting outcomes carrying this many characters of result rows are written at once: a
 * pipeline of many sampled results must not pile up in memory for OUTCOME_FLUSH_MS.
 */
export const OUTCOME_FLUSH_CHARS = 1_048_576;

export interface SessionRecordingOptions {
  /**
   * Bytes (UTF-8) of terminal output and input recorded per operation (default 1 MiB); beyond
   * them an `omitted` event counts what was not recorded.
   */
  readonly maxTerminalBytes?: number;
  /** Epoch ms, for the timing of terminal data (tests inject a clock). */
  readonly now?: () => number;
}

export class SessionRecording {
  private started = false;
  private readonly terminals: TerminalCoalescer;
  private outcomes: OutcomeEvent[] = [];
  /** Characters of result rows in `outcomes`. */
  private outcomeChars = 0;
  private outcomeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly recorder: Recorder,
    readonly sessionId: string,
    private readonly log: Logger,
    private readonly protocol: RecordedProtocol = 'postgres',
    options: SessionRecordingOptions = {},
  ) {
    this.terminals = new TerminalCoalescer({
      maxBytes: options.maxTerminalBytes ?? DEFAULT_MAX_TERMINAL_BYTES,
      now: options.now ?? Date.now,
      write: (record) => this.writeTerminal(record),
    });
  }

  /** Throws RecorderError: a session that cannot be recorded must not open. */
  start(connection: string, identity: Identity, clientAddress: string, tls: boolean): void {
    this.recorder.sessionStarted({
      sessionId: this.sessionId,
      protocol: this.protocol,
      connection,
      identity: { subject: identity.subject, clientId: identity.clientId, groups: identity.groups },
      clientAddress,
      tls,
    });
    this.started = true;
  }

  /**
   * Records a decided operation (with its bind parameters, for an execution of a prepared
   * statement); returns its event's seq, or undefined when it could not be recorded (refuse it).
   */
  operation(operation: Operation, decision: Decision, parameters?: readonly RecordedParameter[]): number | undefined {
    this.flushTerminal(() => this.terminals.flush());
    this.flushOutcomes();
    try {
      return this.recorder.operation({
        sessionId: this.sessionId,
        via: operation.via,
        text: operation.text,
        ...(parameters === undefined ? {} : { parameters }),
        effect: decision.effect,
        rule: decision.rule,
        reason: decision.reason,
        facts: operation.shell === undefined ? compactFacts(operation.facts, decision.effect !== 'allow') : compactShellFacts(operation.shell),
      });
    } catch (err) {
      this.log.error('recording failed; refusing the operation', { error: err });
      if (!(err instanceof RecorderError)) throw err;
      return undefined;
    }
  }

  /**
   * Queues what an operation returned; written with the next operation, within OUTCOME_FLUSH_MS,
   * or at once when the queue holds OUTCOME_FLUSH_CHARS of result rows.
   */
  outcome(outcome: Omit<OutcomeEvent, 'sessionId'>): void {
    if (!this.started) return;
    this.flushTerminal(() => this.terminals.finish(outcome.operationSeq));
    this.outcomes.push({ sessionId: this.sessionId, ...outcome });
    for (const row of outcome.resultRows ?? []) for (const value of row) this.outcomeChars += recordedValueChars(value);
    if (this.outcomeChars >= OUTCOME_FLUSH_CHARS) this.flushOutcomes();
    else
      this.outcomeTimer ??= setTimeout(() => {
        this.outcomeTimer = undefined;
        this.flushOutcomes();
      }, OUTCOME_FLUSH_MS);
  }

  /**
   * Writes the queued outcomes. The timer is not cleared when the next operation writes them:
   * it was set at most OUTCOME_FLUSH_MS before any outcome queued since, so it still fires in
   * time for them, and a busy session arms one timer per OUTCOME_FLUSH_MS, not one per statement.
   */
  private flushOutcomes(): void {
    if (this.outcomes.length === 0) return;
    const outcomes = this.outcomes;
    this.outcomes = [];
    this.outcomeChars = 0;
    try {
      for (const outcome of outcomes) this.recorder.outcome(outcome);
    } catch (err) {
      // The operations themselves are recorded; only what they returned is lost.
      this.log.error('recording an operation outcome failed', { error: err });
    }
  }

  /**
   * Terminal I/O of one SSH operation as the agent saw it (already masked): `o` output (stdout
   * and stderr as a terminal shows them), `i` input, `r` the terminal size as `COLSxROWS` (at
   * the start when there is a PTY, and at each window change), `x` the exit status (a decimal
   * number or the signal name). Coalesced and recorded in the session's chain; never throws
   * (a recording failure is logged, like an outcome's: the data path goes on).
   */
  terminal(operationSeq: number, code: TerminalCode, data: string): void {
    if (!this.started) return;
    try {
      this.terminals.add(operationSeq, code, data);
    } catch (err) {
      this.log.error('recording terminal data failed', { error: err });
    }
  }

  /** Writes waiting terminal data (with `fn`), so it precedes what is recorded next; never throws. */
  private flushTerminal(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error('recording terminal data failed', { error: err });
    }
  }

  private writeTerminal(record: TerminalRecord): void {
    try {
      this.recorder.terminal({ sessionId: this.sessionId, ...record });
    } catch (err) {
      // The operation itself is recorded; only some of what its terminal showed is lost.
      this.log.error('recording terminal data failed', { error: err, operationSeq: record.operationSeq, code: record.code });
    }
  }

  end(endedBy: EndedBy, reason: string): void {
    if (!this.started) return;
    this.flushTerminal(() => this.terminals.finish());
    this.flushOutcomes();
    clearTimeout(this.outcomeTimer);
    this.outcomeTimer = undefined;
    this.started = false;
    try {
      this.recorder.sessionEnded({ sessionId: this.sessionId, endedBy, reason });
    } catch (err) {
      this.log.error('recording the end of a session failed', { error: err });
    }
  }

  /** Refused connections and failed authentication are audit events too. */
  authFailure(clientAddress: string, connection: string, reason: string, subject?: string): void {
    try {
      this.recorder.authFailure({ protocol: this.protocol, clientAddress, connection, reason, ...(subject ? { subject } : {}) });
    } catch (err) {
      this.log.error('recording an authentication failure failed', { error: err });
    }
  }
}

/**
 * What the recording keeps of the inspector's facts: what rules match on. Statement texts
 * are already in the event (as the exact text sent); the notes explaining a refusal are
 * kept only for refusals.
 */
function compactFacts(facts: SqlInspection | undefined, refused: boolean): unknown {
  if (facts === undefined || !facts.ok) return facts;
  return facts.statements.map((s) => ({
    kind: s.kind,
    class: s.class,
    ...(s.tables.length > 0 ? { tables: s.tables } : {}),
    ...(s.functions.length > 0 ? { functions: s.functions } : {}),
    ...(s.flags.length > 0 ? { flags: s.flags } : {}),
    ...(refused && s.notes !== undefined && s.notes.length > 0 ? { notes: s.notes } : {}),
  }));
}

/** The programs a command line runs (with wrappers and files written), and any flags: what shell rules match on. */
function compactShellFacts(facts: ShellInspection): unknown {
  if (!facts.ok) return facts;
  return {
    commands: facts.commands.map((c) => ({
      program: c.program,
      ...(c.path === c.program ? {} : { path: c.path }),
      ...(c.wrappers.length > 0 ? { wrappers: c.wrappers } : {}),
      ...(c.redirections.some((r) => r.writes) ? { writes: c.redirections.filter((r) => r.writes).map((r) => r.target) } : {}),
    })),
    ...(facts.flags.length > 0 ? { flags: facts.flags, notes: facts.notes } : {}),
  };
}
