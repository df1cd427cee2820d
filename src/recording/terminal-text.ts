/**
 * Recorded terminal output made safe for an auditor's terminal. Output comes from the target
 * (and, echoed, from the agent): played raw, escape sequences could set the auditor's window
 * title or clipboard, make their terminal answer queries as if typed, switch modes that
 * outlive the replay, or hide text. Pure.
 *
 * `TerminalTextFilter` (replay) keeps what draws a screen — printable text, line feeds,
 * carriage returns, tabs, backspaces, colours and attributes (SGR), cursor movement and
 * erasing — drops a few harmless mode switches and window titles that would otherwise
 * clutter every prompt, and shows everything else escaped (`\x1b]52;…`, `\x07`, `\u202e`).
 *
 * `plainTerminalLines` (summaries) keeps only the text: every sequence removed, each line as
 * a terminal would end up showing it after carriage returns, escaped like all recorded text.
 */
import { visible } from './printable.js';

/** CSI final bytes allowed with plain numeric parameters: SGR, cursor movement, erase, insert/delete. */
const DRAWING_FINALS = new Set('mABCDEFGHfJKXP@LMdST`');
/** Private modes switched on and off (`CSI ? n h|l`) that are dropped: cursor keys, blink, cursor visibility, bracketed paste. */
const DROPPED_PRIVATE_MODES = new Set(['1', '12', '25', '2004']);
/** Incomplete sequences longer than this are not sequences: shown escaped. */
const MAX_SEQUENCE = 256;

/** Characters shown escaped: C0 controls but tab, LF, CR and backspace; DEL; C1; bidirectional overrides and isolates. */
const UNSAFE_CHAR = /[\u0000-\u0007\u000b\u000c\u000e-\u001a\u001c-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/** A streaming filter over one operation's output (sequences may be split across pieces). */
export class TerminalTextFilter {
  private held = '';
  /** Whether any colour or attribute passed: a reset is then due before other text is printed. */
  styled = false;

  /** The safe form of the next piece of output; an incomplete sequence at its end waits for the next one. */
  write(text: string): string {
    const input = this.held + text;
    this.held = '';
    let out = '';
    let i = 0;
    while (i < input.length) {
      const char = input[i] as string;
      if (char !== '\x1b') {
        const point = String.fromCodePoint(input.codePointAt(i) as number);
        out += UNSAFE_CHAR.test(point) ? visible(point) : point;
        i += point.length;
        continue;
      }
      const sequence = readSequence(input, i);
      if (sequence === undefined) {
        if (input.length - i <= MAX_SEQUENCE) {
          this.held = input.slice(i);
          break;
        }
        out += visible(char);
        i++;
        continue;
      }
      out += this.render(sequence);
      i += sequence.length;
    }
    return out;
  }

  /** What is still held (an unfinished sequence), escaped: at the end of the operation's output. */
  end(): string {
    const rest = this.held;
    this.held = '';
    return visible(rest);
  }

  private render(sequence: string): string {
    if (sequence[1] === '[') {
      const body = sequence.slice(2, -1);
      const final = sequence[sequence.length - 1] as string;
      if (/^[\d;]*$/.test(body) && DRAWING_FINALS.has(final)) {
        if (final === 'm') this.styled = true;
        return sequence;
      }
      if ((final === 'h' || final === 'l') && body.startsWith('?') && body.slice(1).split(';').every((mode) => DROPPED_PRIVATE_MODES.has(mode))) return '';
    }
    // Window and icon titles (OSC 0, 1, 2), and the keypad modes.
    if (/^\x1b\][012];/.test(sequence) || sequence === '\x1b=' || sequence === '\x1b>') return '';
    return visible(sequence);
  }
}

/**
 * The escape sequence starting at `input[i]` (an ESC), or undefined when it is not complete
 * within the input: CSI (`ESC [` parameters, intermediates, a final byte), OSC, DCS, SOS, PM
 * and APC (ended by BEL or `ESC \`), or ESC and one more character.
 */
function readSequence(input: string, i: number): string | undefined {
  const next = input[i + 1];
  if (next === undefined) return undefined;
  if (next === '[') {
    let j = i + 2;
    while (j < input.length) {
      const code = input.charCodeAt(j);
      if (code >= 0x40 && code <= 0x7e) return input.slice(i, j + 1);
      // Parameters and intermediates only; anything else ends a malformed sequence here.
      if (code < 0x20 || code > 0x3f) return input.slice(i, j);
      j++;
    }
    return undefined;
  }
  if (next === ']' || next === 'P' || next === 'X' || next === '^' || next === '_') {
    for (let j = i + 2; j < input.length; j++) {
      if (input[j] === '\x07') return input.slice(i, j + 1);
      if (input[j] === '\x1b') return input[j + 1] === undefined ? undefined : input.slice(i, input[j + 1] === '\\' ? j + 2 : j);
    }
    return undefined;
  }
  return input.slice(i, i + 2);
}

/** Removes every escape sequence (an unfinished one at the end too). */
export function stripSequences(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const j = text.indexOf('\x1b', i);
    if (j === -1) return out + text.slice(i);
    out += text.slice(i, j);
    const sequence = readSequence(text, j);
    if (sequence === undefined) return out;
    i = j + Math.max(1, sequence.length);
  }
  return out;
}

/** Output as the lines a terminal would show (sequences removed, carriage returns applied), each safe to print. */
export function plainTerminalLines(text: string): string[] {
  const lines = stripSequences(text).replace(/\r+\n/g, '\n').split('\n');
  return lines.map((line) => {
    // What follows the last carriage return overwrites the start of the line (progress bars).
    const parts = line.split('\r');
    let shown = '';
    for (const part of parts) shown = part + shown.slice(part.length);
    return visible(shown).replaceAll('\t', ' ');
  });
}
