/**
 * A recorded SSH session played back, for `portcullis replay`: a header per command or shell
 * (`connection$ command line`, and the decision when it was not allowed), the terminal output
 * the agent saw with its original pacing, how each ended, and how the session ended. Pure,
 * like the SQL timeline (replay-timeline.ts): steps carry their delays.
 *
 * Output is played through TerminalTextFilter: colours and cursor movement reach the
 * auditor's terminal, anything else is shown escaped. Input is not played (a terminal echoes
 * what is typed, so it is in the output), nor are window sizes and exit statuses (the outcome
 * line says how a command ended). Allowed lines typed in a shell are in the output as echoed;
 * refused ones are shown with their refusal.
 */
import { checkPacing, endLine, headerLines, pacedDelay, STILL_OPEN, type ReplayPacing, type ReplayStep } from './replay-timeline.js';
import type { DecodedEvent, OperationPayload, OutcomePayload } from './session-query.js';
import { operationLabel, terminalTimeline } from './terminal-timeline.js';
import { TerminalTextFilter } from './terminal-text.js';
import { visible, visibleLines } from './printable.js';

/** Resets colours and attributes the output left on. */
const RESET = '\x1b[0m';

export function terminalReplayTimeline(events: readonly DecodedEvent[], pacing: ReplayPacing): ReplayStep[] {
  checkPacing(pacing);
  const steps: ReplayStep[] = [];
  const filters = new Map<number, TerminalTextFilter>();
  const operations = new Map<number, OperationPayload>();
  let prompt = '?';
  let startedAt: number | undefined;
  let shownAt: number | undefined;
  let ended = false;
  /** Whether the last thing printed was terminal output that did not end a line. */
  let midLine = false;
  let styled = false;

  const push = (time: number, seq: number | null, text: string, terminal = false): void => {
    steps.push({ delayMs: pacedDelay(shownAt, time, pacing), seq, text, ...(terminal ? { terminal: true as const } : {}) });
    shownAt = time;
  };
  /** Lines of our own, on a line of their own, in the terminal's default colours. */
  const say = (time: number, seq: number | null, lines: readonly string[]): void => {
    const before = (styled ? RESET : '') + (midLine ? '\r\n' : '');
    styled = false;
    midLine = false;
    push(time, seq, before + lines.join('\n'));
  };
  const closeOutput = (operationSeq: number): string => {
    const filter = filters.get(operationSeq);
    filters.delete(operationSeq);
    return filter === undefined ? '' : filter.end();
  };

  for (const item of terminalTimeline(events)) {
    switch (item.kind) {
      case 'start':
        prompt = visible(item.data.connection);
        startedAt = item.time;
        say(item.time, item.seq, headerLines(item.sessionId, item.time, item.data));
        break;
      case 'operation': {
        operations.set(item.seq, item.data);
        const lines = operationLines(prompt, item.data);
        if (lines.length > 0) say(item.time, item.seq, lines);
        break;
      }
      case 'terminal': {
        if (item.code !== 'o') break;
        let filter = filters.get(item.operationSeq);
        if (filter === undefined) filters.set(item.operationSeq, (filter = new TerminalTextFilter()));
        const text = filter.write(item.text);
        if (text === '') break;
        styled ||= filter.styled;
        midLine = !text.endsWith('\n');
        push(item.time, item.seq, text, true);
        break;
      }
      case 'omitted': {
        const rest = closeOutput(item.operationSeq);
        if (rest !== '') midLine = true;
        say(item.time, item.seq, [
          `${rest}[portcullis: ${item.omittedBytes} more bytes of output and input were not recorded: over the limit of ${item.limitBytes} bytes per command]`,
        ]);
        break;
      }
      case 'outcome': {
        const rest = closeOutput(item.data.operationSeq);
        const operation = operations.get(item.data.operationSeq);
        say(item.time, item.seq, [`${rest}${outcomeLine(item.data, operation)}`]);
        break;
      }
      case 'end':
        ended = true;
        say(item.time, item.seq, ['', endLine(item.time, startedAt, item.data)]);
        break;
    }
  }
  if (!ended && events.length > 0) say(shownAt ?? 0, null, [STILL_OPEN]);
  return steps;
}

/**
 * `prod$ command line` (further lines at `prod>`), then the decision when it was not allowed.
 * An allowed line typed in a shell shows nothing: the terminal's echo already shows it.
 */
function operationLines(prompt: string, operation: OperationPayload): string[] {
  const { effect, rule, reason } = operation;
  const refusal =
    effect === 'deny'
      ? `DENIED by rule ${visible(rule)}: ${visible(reason)}`
      : effect === 'review'
        ? `HELD FOR REVIEW by rule ${visible(rule)}: ${visible(reason)}`
        : undefined;
  if (operation.via === 'shell-line') {
    return refusal === undefined ? [] : [`(typed in the shell: ${visible(operation.text)}) ${refusal}`];
  }
  const lines = visibleLines(operationLabel(operation)).map((line, i) => `${prompt}${i === 0 ? '$' : '>'} ${line}`);
  return refusal === undefined ? ['', ...lines] : ['', ...lines, refusal];
}

/** `(exit 0, 120 bytes, 45 ms)`, or the refusal or error it ended with. */
function outcomeLine(outcome: OutcomePayload, operation: OperationPayload | undefined): string {
  const { error, command, bytes, durationMs } = outcome;
  if (error !== undefined) {
    return error.code === 'refused' ? `REFUSED: ${visible(error.message)}` : `ERROR: ${visible(error.code)}: ${visible(error.message)}`;
  }
  const parts = [command === undefined ? (operation === undefined ? `result of event ${outcome.operationSeq}` : 'done') : visible(command)];
  if (bytes !== undefined) parts.push(`${bytes} ${bytes === 1 ? 'byte' : 'bytes'}`);
  parts.push(`${durationMs} ms`);
  return `(${parts.join(', ')})`;
}
