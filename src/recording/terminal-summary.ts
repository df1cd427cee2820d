/**
 * A short account of each SSH operation's recorded terminal data, for `portcullis sessions
 * show`: the first lines of output as a terminal would show them (escape sequences removed,
 * escaped like all recorded text), how much output and input there was, the window size,
 * the exit status, and what was not recorded. Pure; keeps a bounded start of each output.
 */
import type { DecodedEvent } from './session-query.js';
import { plainTerminalLines } from './terminal-text.js';
import { visible } from './printable.js';

/** Output lines shown per operation. */
export const SUMMARY_LINES = 5;
/** The widest an output line is shown, in characters (longer ones end in `…`). */
export const SUMMARY_WIDTH = 100;
/** Output characters kept per operation to find its first lines. */
const KEPT_CHARS = 8192;

export interface TerminalSummary {
  /** The first characters of the output. */
  head: string;
  outputBytes: number;
  /** Line feeds in the output. */
  outputLines: number;
  /** Whether the output ends without a line feed (its last line counts as one more). */
  openLine: boolean;
  inputBytes: number;
  /** The first and last window sizes. */
  firstSize: string | undefined;
  lastSize: string | undefined;
  exit: string | undefined;
  omittedBytes: number;
}

/** Each operation's summary, by operation seq (only operations with terminal data). */
export function terminalSummaries(events: readonly DecodedEvent[]): Map<number, TerminalSummary> {
  const summaries = new Map<number, TerminalSummary>();
  for (const event of events) {
    if (event.type !== 'terminal') continue;
    const data = event.data;
    let summary = summaries.get(data.operationSeq);
    if (summary === undefined) {
      summary = { head: '', outputBytes: 0, outputLines: 0, openLine: false, inputBytes: 0, firstSize: undefined, lastSize: undefined, exit: undefined, omittedBytes: 0 };
      summaries.set(data.operationSeq, summary);
    }
    if (data.code === 'omitted') {
      summary.omittedBytes += data.omittedBytes;
      continue;
    }
    for (const [, text] of data.pieces) {
      switch (data.code) {
        case 'o':
          if (summary.head.length < KEPT_CHARS) summary.head += text.slice(0, KEPT_CHARS - summary.head.length);
          summary.outputBytes += Buffer.byteLength(text, 'utf8');
          summary.outputLines += countLineFeeds(text);
          if (text !== '') summary.openLine = !text.endsWith('\n');
          break;
        case 'i':
          summary.inputBytes += Buffer.byteLength(text, 'utf8');
          break;
        case 'r':
          summary.firstSize ??= text;
          summary.lastSize = text;
          break;
        case 'x':
          summary.exit = text;
          break;
      }
    }
  }
  return summaries;
}

/** The lines shown under an operation: `| ` and its first output lines, then a line of counts. */
export function terminalSummaryLines(summary: TerminalSummary): string[] {
  const total = summary.outputLines + (summary.openLine ? 1 : 0);
  let shown = plainTerminalLines(summary.head);
  if (shown.length > 0 && shown[shown.length - 1] === '') shown = shown.slice(0, -1);
  const lines = shown.slice(0, SUMMARY_LINES).map((line) => `| ${[...line].length > SUMMARY_WIDTH ? `${[...line].slice(0, SUMMARY_WIDTH - 1).join('')}…` : line}`.trimEnd());
  const more = total - lines.length;
  if (more > 0 && lines.length > 0) lines.push(`| … ${more} more ${more === 1 ? 'line' : 'lines'}`);
  const counts = [`${plural(total, 'line')} of output (${plural(summary.outputBytes, 'byte')})`];
  if (summary.inputBytes > 0) counts.push(`${plural(summary.inputBytes, 'byte')} of input`);
  if (summary.firstSize !== undefined) {
    const first = visible(summary.firstSize);
    counts.push(summary.firstSize === summary.lastSize ? `window ${first}` : `window ${first} → ${visible(summary.lastSize ?? '')}`);
  }
  if (summary.exit !== undefined) counts.push(`exit ${visible(summary.exit)}`);
  if (summary.omittedBytes > 0) counts.push(`${plural(summary.omittedBytes, 'more byte')} NOT RECORDED (over the per-command limit)`);
  lines.push(`terminal: ${counts.join(', ')}`);
  return lines;
}

function countLineFeeds(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

function plural(count: number, singular: string): string {
  return `${count} ${count === 1 ? singular : `${singular}s`}`;
}
