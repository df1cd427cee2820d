/**
 * Recorded text made safe to print on an auditor's terminal. Statements, parameters, error
 * messages and identities in a recording come from agents and targets: printed raw, escape
 * sequences in them could drive the terminal, and bidirectional overrides could make a
 * statement read differently than it ran ("Trojan Source").
 */

/** C0/C1 controls but tab, and the bidirectional overrides and isolates ("Trojan Source"). */
export const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

/** One line of recorded text, safe to print: unsafe characters as `\n`, `\x1b`, `\u202e`. */
export function visible(text: string): string {
  return text.replace(UNSAFE, (char) => {
    if (char === '\n') return '\\n';
    if (char === '\r') return '\\r';
    const code = char.codePointAt(0) as number;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Recorded multi-line text (statements), split into lines safe to print. */
export function visibleLines(text: string): string[] {
  return text.split(/\r?\n/).map(visible);
}
