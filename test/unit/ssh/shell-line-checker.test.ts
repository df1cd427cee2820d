/** Lines typed in an interactive shell, reconstructed from keystrokes and checked before Enter reaches the target. */
import { describe, expect, it } from 'vitest';
import { ShellLineChecker } from '../../../src/protocols/ssh/shell-line-checker.js';

function checker(refused: RegExp): { lines: string[]; checker: ShellLineChecker } {
  const lines: string[] = [];
  return { lines, checker: new ShellLineChecker((line) => (lines.push(line), !refused.test(line))) };
}

describe('ShellLineChecker', () => {
  it('submits an allowed line as typed, and replaces Enter on a refused one by erasing it (Ctrl-U) and a fresh prompt', () => {
    const { lines, checker: c } = checker(/^rm/);
    expect(c.input(Buffer.from('ls -l\r')).toString()).toBe('ls -l\r');
    expect(c.input(Buffer.from('rm -rf /x\r')).toString()).toBe('rm -rf /x\u0015\r');
    expect(lines).toEqual(['ls -l', 'rm -rf /x']);
  });

  it('follows backspace, Ctrl-U and Ctrl-C, and checks lines split across chunks whole', () => {
    const { lines, checker: c } = checker(/^rm/);
    c.input(Buffer.from('rx\u007fm -r'));
    expect(c.input(Buffer.from('f /x\n')).toString()).toBe('f /x\u0015\r');
    c.input(Buffer.from('junk\u0015ls\r'));
    c.input(Buffer.from('rm\u0003echo ok\r'));
    expect(lines).toEqual(['rm -rf /x', 'ls', 'echo ok']);
  });

  it('keeps a character split across chunks whole, and does not check empty lines', () => {
    const { lines, checker: c } = checker(/^$/);
    const euro = Buffer.from('echo €\r');
    expect(Buffer.concat([c.input(euro.subarray(0, 7)), c.input(euro.subarray(7))]).toString()).toBe('echo €\r');
    expect(c.input(Buffer.from('\r')).toString()).toBe('\r');
    expect(lines).toEqual(['echo €']);
  });
});
