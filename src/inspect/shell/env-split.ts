/**
 * GNU `env -S STRING` splitting: STRING becomes several arguments, with its own quoting
 * (`'…'`, `"…"`), escapes (`\_` is a space separator, `\c` ends the string), `#` comments and
 * `${NAME}` expansion. The words it yields are scanned like any of env's own.
 */
import { ShellSyntaxError } from './errors.js';

export interface SplitWord {
  readonly value: string;
  /** Contains `${NAME}`, expanded by env at run time. */
  readonly dynamic: boolean;
}

const ESCAPES: Readonly<Record<string, string>> = {
  f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '#': '#', $: '$', '"': '"', "'": "'", '\\': '\\',
};

export function splitEnvString(s: string, position: number | undefined): SplitWord[] {
  const words: SplitWord[] = [];
  let current: string | undefined;
  let dynamic = false;
  const finish = (): void => {
    if (current !== undefined) words.push({ value: current, dynamic });
    current = undefined;
    dynamic = false;
  };
  const add = (text: string): void => {
    current = (current ?? '') + text;
  };
  let quote: "'" | '"' | undefined;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else if (c === '\\' && (s[i + 1] === "'" || s[i + 1] === '\\')) add(s[++i]!);
      else add(c);
      i += 1;
      continue;
    }
    if (c === '\\') {
      const e = s[i + 1];
      if (e === undefined) throw new ShellSyntaxError('env -S: the string ends in a backslash', position);
      if (e === 'c') {
        if (quote) throw new ShellSyntaxError('env -S: \\c inside double quotes', position);
        break;
      }
      if (e === '_') {
        if (quote) add(' ');
        else finish();
      } else if (ESCAPES[e] !== undefined) add(ESCAPES[e]);
      else throw new ShellSyntaxError(`env -S: invalid escape \\${e}`, position);
      i += 2;
      continue;
    }
    if (c === '$') {
      const m = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}/.exec(s.slice(i));
      if (!m) throw new ShellSyntaxError('env -S: only ${NAME} expansion is supported', position);
      add(m[0]);
      dynamic = true;
      i += m[0].length;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else add(c);
      i += 1;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      add('');
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r') finish();
    else if (c === '#' && current === undefined) break;
    else add(c);
    i += 1;
  }
  if (quote) throw new ShellSyntaxError(`env -S: unterminated ${quote === "'" ? 'single' : 'double'} quote`, position);
  finish();
  return words;
}
