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
 *
 * When the connection records result rows, the tracker also keeps the first rows of each
 * execution (as the session hands them over, already masked). Memory stays bounded: at most
 * `resultRowLimit` rows per execution, each value cut to `maxValueChars`, and at most
 * `maxSampleChars` characters of values per execution.
 */

import { recordedValueChars, type OutcomeEvent, type RecordedParameter, type RecordedValue } from '../../recording/recorder.js';

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
  /** The first rows of the result `columns` describes (a later RowDescription starts a new sample). */
  sample: RecordedValue[][];
  /** Characters of values in `sample`, against `maxSampleChars`. */
  sampleChars: number;
}

/** Which result rows to record; all limits per execution. */
export interface ResultSampling {
  /** Rows kept per execution; 0 (the default) records none. */
  readonly resultRowLimit: number;
  /** A longer value keeps only its start, marked as cut (see RecordedValue); default DEFAULT_MAX_VALUE_CHARS. */
  readonly maxValueChars?: number;
  /**
   * Sampling stops once the values sampled for one execution reach this many characters (the
   * row that reaches it is kept), so a wide result cannot make an execution's sample large;
   * default DEFAULT_MAX_SAMPLE_CHARS.
   */
  readonly maxSampleChars?: number;
}

/** Enough of a value for an audit; the rest is marked cut rather than kept. */
export const DEFAULT_MAX_VALUE_CHARS = 1024;
/** About half a megabyte of memory (and of outcome event) per execution at most, whatever the result's width. */
export const DEFAULT_MAX_SAMPLE_CHARS = 262_144;

/** The error recorded for executions the target skipped after an earlier failure in the pipeline. */
export const SKIPPED = {
  code: '25P02',
  message: 'not run: an earlier message in the same pipeline failed, so the target skipped it',
} as const;

export class OutcomeTracker {
  private readonly open: Execution[] = [];
  private boundariesSent = 0;
  private boundariesDone = 0;
  /**
   * The target failed a message in the current pipeline: it sends nothing more for it until the
   * next ReadyForQuery, so nothing is attributed to an execution until then.
   */
  private failed = false;
  /** Portal name → the recorded Bind that created it. */
  private readonly portals = new Map<string, number>();
  private resultRowLimit = 0;
  private maxValueChars = DEFAULT_MAX_VALUE_CHARS;
  private maxSampleChars = DEFAULT_MAX_SAMPLE_CHARS;

  constructor(private readonly now: () => number) {}

  /**
   * Sets which result rows are recorded (the connection's `record: { result_rows }`, known once
   * the session is authenticated); applies to rows received from now on. Throws RangeError on
   * a limit that is not a non-negative integer (a value cap: a positive integer).
   */
  setResultSampling(sampling: ResultSampling): void {
    const { resultRowLimit, maxValueChars = DEFAULT_MAX_VALUE_CHARS, maxSampleChars = DEFAULT_MAX_SAMPLE_CHARS } = sampling;
    if (!(Number.isSafeInteger(resultRowLimit) && resultRowLimit >= 0)) throw new RangeError(`resultRowLimit must be an integer of 0 or more, got ${resultRowLimit}`);
    if (!(Number.isSafeInteger(maxValueChars) && maxValueChars > 0)) throw new RangeError(`maxValueChars must be a positive integer, got ${maxValueChars}`);
    if (!(Number.isSafeInteger(maxSampleChars) && maxSampleChars > 0)) throw new RangeError(`maxSampleChars must be a positive integer, got ${maxSampleChars}`);
    this.resultRowLimit = resultRowLimit;
    this.maxValueChars = maxValueChars;
    this.maxSampleChars = maxSampleChars;
  }

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
    if (current === undefined) return;
    current.columns = columns;
    // A Query of several statements returns several results: the sample is of the one described last, like `columns`.
    current.sample = [];
    current.sampleChars = 0;
  }

  /**
   * Whether the execution receiving DataRows now still needs rows for its sample: decode a
   * DataRow for `sampleRow` only while this is true (it is cheap; false when sampling is off).
   */
  wantsRows(): boolean {
    if (this.resultRowLimit === 0) return false;
    const current = this.current();
    return current !== undefined && this.hasRoom(current);
  }

  /**
   * One DataRow's values as the agent received them (after masking), in column order: kept in
   * the sample of the execution receiving rows while it has room (see wantsRows), each value
   * longer than `maxValueChars` cut to its start and marked. Call it as well as `dataRows`,
   * which counts every row.
   */
  sampleRow(values: readonly RecordedParameter[]): void {
    if (this.resultRowLimit === 0) return;
    const current = this.current();
    if (current === undefined || !this.hasRoom(current)) return;
    const row = values.map((value) => cutValue(value, this.maxValueChars));
    current.sample.push(row);
    for (const value of row) current.sampleChars += recordedValueChars(value);
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

  /**
   * An ErrorResponse (not FATAL): the oldest open execution failed (its outcome keeps the rows
   * sampled before the error: the agent received them). The target skips the rest of the
   * pipeline, so nothing more is attributed until ReadyForQuery.
   */
  error(code: string, message: string): Outcome | undefined {
    const current = this.current();
    this.failed = true;
    if (current === undefined) return undefined;
    return this.finish(current, { code, message });
  }

  /** ReadyForQuery: closes every execution sent before it (those left open were skipped). */
  readyForQuery(): Outcome[] {
    this.boundariesDone++;
    this.failed = false;
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
      sample: [],
      sampleChars: 0,
    });
  }

  /** The execution the target is answering now: the oldest open one of the current pipeline, unless that pipeline failed. */
  private current(): Execution | undefined {
    if (this.failed) return undefined;
    const first = this.open[0];
    return first !== undefined && first.boundary === this.boundariesDone ? first : undefined;
  }

  private hasRoom(execution: Execution): boolean {
    return execution.sample.length < this.resultRowLimit && execution.sampleChars < this.maxSampleChars;
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
      ...(execution.sample.length > 0 ? { resultRows: execution.sample } : {}),
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

/**
 * A value as sampled: whole when it fits `maxChars`, else its start, marked with its full size.
 * Base64 is cut on a 4-character boundary (so it still decodes, to the first bytes), text never
 * inside a surrogate pair.
 */
export function cutValue(value: RecordedParameter, maxChars: number): RecordedValue {
  if (value === null) return null;
  if (typeof value === 'string') {
    if (value.length <= maxChars) return value;
    const end = isHighSurrogate(value.charCodeAt(maxChars - 1)) ? maxChars - 1 : maxChars;
    return { text: value.slice(0, end), totalChars: value.length };
  }
  const { base64 } = value;
  if (base64.length <= maxChars) return value;
  return { base64: base64.slice(0, maxChars - (maxChars % 4)), totalBytes: base64Bytes(base64) };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Bytes encoded by (padded) base64 text. */
function base64Bytes(base64: string): number {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0;
  return Math.floor(base64.length / 4) * 3 - padding;
}
