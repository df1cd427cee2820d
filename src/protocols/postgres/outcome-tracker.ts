/**
 * Pairs what the target answers with the recorded operations it answers, so that each
 * operation's outcome (command tag, rows, bytes, columns, duration, error) can be recorded.
 * Pure: the session feeds it client messages as they are forwarded and target messages as
 * they are relayed; it never sees sockets.
 *
 * PostgreSQL answers in order. A simple Query's results run until its ReadyForQuery. In the
 * extended protocol each Execute ends with CommandComplete, EmptyQueryResponse,
 * PortalSuspended or an ErrorResponse, and after an error the target skips everything up to
 * the next Sync. So the tracker keeps the open executions in order, each tagged with the
 * number of ReadyForQuery-producing messages (Query, Sync) sent before it: an error belongs
 * to the oldest open execution, and a ReadyForQuery closes everything sent before it.
 */

import type { OutcomeEvent } from '../../recording/recorder.js';

/** What is recorded about one execution's result. */
export type Outcome = Omit<OutcomeEvent, 'sessionId'>;

interface Execution {
  readonly operationSeq: number;
  readonly startedAt: number;
  /** ReadyForQuery-producing messages sent before this execution: the one after them closes it. */
  readonly boundary: number;
  /** A simple Query runs until ReadyForQuery; an Execute until its completion message. */
  readonly untilReady: boolean;
  tags: string[];
  rows: number;
  bytes: number;
  columns: string[] | undefined;
}

/** The error recorded for executions the target skipped after an earlier failure in the pipeline. */
export const SKIPPED = {
  code: '25P02',
  message: 'not run: an earlier message in the same pipeline failed, so the target skipped it',
} as const;

export class OutcomeTracker {
  private readonly open: Execution[] = [];
  private boundariesSent = 0;
  private boundariesDone = 0;
  /** Portal name → the recorded Bind that created it. */
  private readonly portals = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  // -------------------------------------------------------------- client side, in send order

  /** A simple Query was forwarded; `operationSeq` undefined when it was refused (no outcome then). */
  query(operationSeq: number | undefined): void {
    if (operationSeq !== undefined) this.start(operationSeq, true);
    this.boundariesSent++;
  }

  /** A Bind was forwarded; `operationSeq` is its recorded event, undefined when not recorded. */
  bind(portal: string, operationSeq: number | undefined): void {
    if (operationSeq === undefined) this.portals.delete(portal);
    else this.portals.set(portal, operationSeq);
  }

  /** An Execute was forwarded. */
  execute(portal: string): void {
    const operationSeq = this.portals.get(portal);
    if (operationSeq !== undefined) this.start(operationSeq, false);
  }

  sync(): void {
    this.boundariesSent++;
  }

  // -------------------------------------------------------------- target side, in receive order

  /**
   * Columns of the result the oldest open execution is about to return (a Describe's answer
   * comes right before its Execute's rows).
   */
  rowDescription(columns: string[]): void {
    const current = this.current();
    if (current !== undefined) current.columns = columns;
  }

  dataRows(count: number, bytes: number): void {
    const current = this.current();
    if (current === undefined) return;
    current.rows += count;
    current.bytes += bytes;
  }

  /** CommandComplete: ends an Execute, or one statement of a simple Query. */
  commandComplete(tag: string): Outcome | undefined {
    const current = this.current();
    if (current === undefined) return undefined;
    current.tags.push(tag);
    return current.untilReady ? undefined : this.finish(current);
  }

  /** EmptyQueryResponse or PortalSuspended: ends an Execute without a tag. */
  executionEnded(): Outcome | undefined {
    const current = this.current();
    if (current === undefined || current.untilReady) return undefined;
    return this.finish(current);
  }

  /** An ErrorResponse (not FATAL): the oldest open execution failed. */
  error(code: string, message: string): Outcome | undefined {
    const current = this.current();
    if (current === undefined) return undefined;
    return this.finish(current, { code, message });
  }

  /** ReadyForQuery: closes every execution sent before it (those left open were skipped). */
  readyForQuery(): Outcome[] {
    this.boundariesDone++;
    const done: Outcome[] = [];
    while (this.open.length > 0 && this.open[0]!.boundary < this.boundariesDone) {
      const execution = this.open[0]!;
      done.push(this.finish(execution, execution.untilReady ? undefined : SKIPPED));
    }
    return done;
  }

  /** Executions still waiting for their result (for the end of the session). */
  get pending(): number {
    return this.open.length;
  }

  private start(operationSeq: number, untilReady: boolean): void {
    this.open.push({
      operationSeq,
      startedAt: this.now(),
      boundary: this.boundariesSent,
      untilReady,
      tags: [],
      rows: 0,
      bytes: 0,
      columns: undefined,
    });
  }

  /** The execution the target is answering now: the oldest open one of the current pipeline. */
  private current(): Execution | undefined {
    const first = this.open[0];
    return first !== undefined && first.boundary === this.boundariesDone ? first : undefined;
  }

  private finish(execution: Execution, error?: { code: string; message: string }): Outcome {
    this.open.splice(this.open.indexOf(execution), 1);
    const returnedRows = execution.rows > 0 || execution.columns !== undefined;
    const affected = returnedRows ? undefined : rowsAffected(execution.tags);
    return {
      operationSeq: execution.operationSeq,
      ...(execution.tags.length > 0 ? { command: execution.tags.join('; ') } : {}),
      ...(returnedRows ? { rows: execution.rows, bytes: execution.bytes } : affected === undefined ? {} : { rows: affected }),
      ...(execution.columns !== undefined ? { columns: execution.columns } : {}),
      durationMs: Math.max(0, this.now() - execution.startedAt),
      ...(error === undefined ? {} : { error }),
    };
  }
}

/** Commands whose tag ends with a row count (`INSERT 0 5`, `UPDATE 3`, `COPY 10`…). */
const COUNTED_COMMANDS = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE', 'SELECT', 'COPY', 'FETCH', 'MOVE']);

/** Rows affected according to the command tags, or undefined when no tag carries a count. */
export function rowsAffected(tags: readonly string[]): number | undefined {
  let total: number | undefined;
  for (const tag of tags) {
    const space = tag.indexOf(' ');
    if (space === -1 || !COUNTED_COMMANDS.has(tag.slice(0, space))) continue;
    const count = Number(tag.slice(tag.lastIndexOf(' ') + 1));
    if (Number.isSafeInteger(count)) total = (total ?? 0) + count;
  }
  return total;
}
