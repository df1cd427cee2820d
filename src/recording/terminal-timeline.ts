/**
 * An SSH session's recording as one timeline: its events, with each terminal event opened
 * up into its pieces at their own times (the operation's `start` plus the piece's offset),
 * in time order. Coalesced terminal events are written after their pieces happened, and
 * concurrent channels interleave, so the chain's order is not the screen's. Pure; shared
 * by replay and the asciicast export.
 */
import type { TerminalCode } from './recorder.js';
import type { DecodedEvent, EndPayload, OperationPayload, OutcomePayload, StartPayload } from './session-query.js';

export type TimelineItem =
  | { readonly kind: 'start'; readonly time: number; readonly seq: number; readonly sessionId: string; readonly data: StartPayload }
  | { readonly kind: 'operation'; readonly time: number; readonly seq: number; readonly data: OperationPayload }
  | { readonly kind: 'outcome'; readonly time: number; readonly seq: number; readonly data: OutcomePayload }
  | {
      readonly kind: 'terminal';
      readonly time: number;
      readonly seq: number;
      readonly operationSeq: number;
      readonly code: TerminalCode;
      readonly text: string;
    }
  | {
      readonly kind: 'omitted';
      readonly time: number;
      readonly seq: number;
      readonly operationSeq: number;
      readonly omittedBytes: number;
      readonly limitBytes: number;
    }
  | { readonly kind: 'end'; readonly time: number; readonly seq: number; readonly data: EndPayload };

/**
 * The items of `events` (in seq order), sorted by time; items of the same time keep the
 * chain's order. An outcome is placed at its operation's exit status when one was recorded:
 * outcomes are written a little after the fact, the exit status when it came.
 */
export function terminalTimeline(events: readonly DecodedEvent[]): TimelineItem[] {
  const exits = new Map<number, number>();
  for (const event of events) {
    if (event.type !== 'terminal' || event.data.code !== 'x') continue;
    const last = event.data.pieces[event.data.pieces.length - 1];
    if (last !== undefined) exits.set(event.data.operationSeq, event.data.start + last[0]);
  }
  const items: TimelineItem[] = [];
  for (const event of events) {
    const { seq, time } = event;
    switch (event.type) {
      case 'session-start':
        items.push({ kind: 'start', time, seq, sessionId: event.sessionId, data: event.data });
        break;
      case 'operation':
        items.push({ kind: 'operation', time, seq, data: event.data });
        break;
      case 'outcome':
        items.push({ kind: 'outcome', time: exits.get(event.data.operationSeq) ?? time, seq, data: event.data });
        break;
      case 'terminal': {
        const data = event.data;
        if (data.code === 'omitted') {
          const { operationSeq, omittedBytes, limitBytes } = data;
          items.push({ kind: 'omitted', time: data.start + data.offsetMs, seq, operationSeq, omittedBytes, limitBytes });
        } else {
          for (const [offset, text] of data.pieces) {
            items.push({ kind: 'terminal', time: data.start + offset, seq, operationSeq: data.operationSeq, code: data.code, text });
          }
        }
        break;
      }
      case 'session-end':
        items.push({ kind: 'end', time, seq, data: event.data });
        break;
    }
  }
  // Array.prototype.sort is stable: ties keep the chain's order.
  return items.sort((a, b) => a.time - b.time);
}

/** The time of the operation's first terminal event (its pieces' `start`), if it has any. */
export function terminalStart(events: readonly DecodedEvent[], operationSeq: number): number | undefined {
  for (const event of events) {
    if (event.type === 'terminal' && event.data.operationSeq === operationSeq) return event.data.start;
  }
  return undefined;
}

/** How an operation reads as one line: the command line, or what the request was. */
export function operationLabel(operation: OperationPayload): string {
  switch (operation.via) {
    case 'exec':
    case 'shell-line':
      return operation.text;
    case 'shell':
      return operation.text === '' ? '(interactive shell)' : `(interactive shell, ${operation.text})`;
    default:
      return `(${operation.via}${operation.text === '' ? '' : ` ${operation.text}`})`;
  }
}
