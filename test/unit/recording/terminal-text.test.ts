import { describe, expect, it } from 'vitest';
import { plainTerminalLines, stripSequences, TerminalTextFilter } from '../../../src/recording/terminal-text.js';

const filtered = (...pieces: string[]): string => {
  const filter = new TerminalTextFilter();
  return pieces.map((piece) => filter.write(piece)).join('') + filter.end();
};

describe('TerminalTextFilter', () => {
  it('passes text, line endings, tabs, backspaces, colours, cursor movement and erasing through unchanged', () => {
    const screen = 'total 8\r\n\x1b[01;34mdir\x1b[0m\tfile\r\nab\bc\x1b[2K\x1b[1G\x1b[3;5H\x1b[J€ 😀\n';
    expect(filtered(screen)).toBe(screen);
  });

  it('shows other controls and sequences escaped: clipboard, queries, bells, C1, bidirectional overrides', () => {
    expect(filtered('a\x1b]52;c;cGF5bG9hZA==\x07b')).toBe('a\\x1b]52;c;cGF5bG9hZA==\\x07b');
    expect(filtered('\x1b[6n\x1b[c\x1b[?1049h\x1b[?1000h\x1b[1;24r')).toBe('\\x1b[6n\\x1b[c\\x1b[?1049h\\x1b[?1000h\\x1b[1;24r');
    expect(filtered('ding\x07 \u009b31m \u202eevil \x1bP1$r\x1b\\ \x1bc')).toBe('ding\\x07 \\x9b31m \\u202eevil \\x1bP1$r\\x1b\\ \\x1bc');
    expect(filtered('\x00\x0b\x0c\x7f')).toBe('\\x00\\x0b\\x0c\\x7f');
  });

  it('leaves out window titles, bracketed paste, cursor visibility and keypad modes (they clutter every prompt)', () => {
    expect(filtered('\x1b]0;agent@web: ~\x07\x1b[?2004hagent@web:~$ \x1b[?25l\x1b[?25h\x1b=\x1b>\x1b[?2004l')).toBe('agent@web:~$ ');
    expect(filtered('\x1b]2;title\x1b\\x')).toBe('x');
  });

  it('holds a sequence split across pieces until it is complete, and escapes an unfinished one at the end', () => {
    const filter = new TerminalTextFilter();
    expect(filter.write('red: \x1b[3')).toBe('red: ');
    expect(filter.write('1mR\x1b')).toBe('\x1b[31mR');
    expect(filter.write(']52;c;x')).toBe('');
    expect(filter.write('\x07.')).toBe('\\x1b]52;c;x\\x07.');
    expect(filter.styled).toBe(true);
    expect(filter.write('\x1b[')).toBe('');
    expect(filter.end()).toBe('\\x1b[');
  });

  it('a malformed CSI is shown escaped up to where it broke; an endless one is not held forever', () => {
    expect(filtered('\x1b[1\x1b[0m')).toBe('\\x1b[1\x1b[0m');
    const filter = new TerminalTextFilter();
    expect(filter.write(`\x1b]0;${'x'.repeat(300)}`)).toBe(`\\x1b]0;${'x'.repeat(300)}`);
    expect(filter.styled).toBe(false);
  });
});

describe('plainTerminalLines', () => {
  it('removes sequences, applies carriage returns, and escapes what is left', () => {
    expect(stripSequences('\x1b[1mbold\x1b[0m \x1b]0;t\x07x\x1b[')).toBe('bold x');
    expect(plainTerminalLines('\x1b[32mok\x1b[0m\r\n 10%\r 50%\r100%\r\nbell\x07\tend')).toEqual(['ok', '100%', 'bell\\x07 end']);
    expect(plainTerminalLines('long line\rX')).toEqual(['Xong line']);
  });
});
