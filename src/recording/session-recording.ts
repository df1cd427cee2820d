/**
 * One session's view of the recorder, used the same way by every front door: start,
 * one event per decided operation (written before the operation is forwarded), end.
 * A recorder failure is returned to the caller, which must refuse the operation — never
 * forward what could not be recorded (fail closed).
 */
import type { Identity } from '../identity/identity.js';
import type { Logger } from '../log.js';
import type { SqlInspection } from '../inspect/sql/facts.js';
import type { Decision, Operation } from '../policy/operation.js';
import { RecorderError, type EndedBy, type Recorder } from './recorder.js';

export const RECORDING_UNAVAILABLE: Decision = {
  effect: 'deny',
  rule: 'recording-unavailable',
  reason:
    'the gateway could not record this operation, so it was not forwarded (nothing runs unrecorded); ' +
    'retry later, and report it to a Portcullis administrator if it persists',
};

export class SessionRecording {
  private started = false;

  constructor(
    private readonly recorder: Recorder,
    readonly sessionId: string,
    private readonly log: Logger,
  ) {}

  /** Throws RecorderError: a session that cannot be recorded must not open. */
  start(connection: string, identity: Identity, clientAddress: string, tls: boolean): void {
    this.recorder.sessionStarted({
      sessionId: this.sessionId,
      protocol: 'postgres',
      connection,
      identity: { subject: identity.subject, clientId: identity.clientId, groups: identity.groups },
      clientAddress,
      tls,
    });
    this.started = true;
  }

  /** Records a decided operation; false when it could not be recorded (refuse it). */
  operation(operation: Operation, decision: Decision): boolean {
    try {
      this.recorder.operation({
        sessionId: this.sessionId,
        via: operation.via,
        text: operation.text,
        effect: decision.effect,
        rule: decision.rule,
        reason: decision.reason,
        facts: compactFacts(operation.facts, decision.effect !== 'allow'),
      });
      return true;
    } catch (err) {
      this.log.error('recording failed; refusing the operation', { error: err });
      if (!(err instanceof RecorderError)) throw err;
      return false;
    }
  }

  end(endedBy: EndedBy, reason: string): void {
    if (!this.started) return;
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
      this.recorder.authFailure({ protocol: 'postgres', clientAddress, connection, reason, ...(subject ? { subject } : {}) });
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
