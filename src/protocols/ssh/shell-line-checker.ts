/**
 * Reconstructs the line being typed in an interactive shell from keystrokes, so each line can
 * be checked before it is submitted. Pure (no I/O): the session forwards what `input` returns.
 */
import { StringDecoder } from 'node:string_decoder';

/** Longest line an interactive shell's input is reconstructed for checking. */
const MAX_SHELL_LINE = 64 * 1024;

/**
 * Reconstructs the line being typed in an interactive shell from keystrokes and asks `submit`
 * whether it may be submitted (Enter). A refused line is erased on the target (Ctrl-U) and a
 * fresh prompt requested instead of submitting it.
 */
export class ShellLineChecker {
  private line = '';
  /** Keystrokes arrive in arbitrary chunks: a character split across two stays whole. */
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly submit: (line: string) => boolean) {}

  /** What to forward to the target for this input. */
  input(chunk: Buffer): Buffer {
    let forwarded = '';
    const text = this.decoder.write(chunk);
    for (const char of text) {
      if (char === '\r' || char === '\n') {
        const line = this.line.trim();
        this.line = '';
        if (line === '' || this.submit(line)) forwarded += char;
        else forwarded += '\u0015\r';
      } else if (char === '\u007f' || char === '\b') {
        this.line = [...this.line].slice(0, -1).join('');
        forwarded += char;
      } else if (char === '\u0015' || char === '\u0003') {
        this.line = '';
        forwarded += char;
      } else {
        if (this.line.length < MAX_SHELL_LINE && (char >= ' ' || char === '\t')) this.line += char;
        forwarded += char;
      }
    }
    return Buffer.from(forwarded, 'utf8');
  }
}
