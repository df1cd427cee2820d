/**
 * How shells and script interpreters are told what to run: a `-c` string (which the
 * inspector parses), a script file (contents unknown, not flagged), or standard input
 * (`curl … | sh`, `bash <<EOF`: flagged, since what arrives there is not on the line).
 */
import type { Arg } from './words.js';

/** Shells whose `-c` string is POSIX sh / bash syntax. */
export const POSIX_SHELLS: ReadonlySet<string> = new Set([
  'sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'mksh', 'rbash', 'ksh93', 'yash', 'posh', 'lksh', 'pdksh', 'hush',
]);

/** Shells with another syntax: their `-c` string is not inspected. */
export const OTHER_SHELLS: ReadonlySet<string> = new Set(['fish', 'csh', 'tcsh', 'nu', 'xonsh', 'elvish']);

export type ShellRun =
  /** `-c`: `args[index]` is the script. */
  | { readonly kind: 'string'; readonly index: number }
  /** `-c` without its string: the shell fails, unless something appends one (xargs). */
  | { readonly kind: 'missing-string' }
  | { readonly kind: 'stdin'; readonly why: string }
  | { readonly kind: 'file'; readonly index: number };

const SHELL_LONG_WITH_VALUE = new Set(['--rcfile', '--init-file', '--emulate']);

/**
 * Reads a shell's options the way bash, dash and zsh do: letters may be combined (`-ec`,
 * `-lc`), `-o`/`-O`/`+o` take the next word, `-c` makes the first operand the script.
 * `optionsEnd` is the index of the first operand (everything before it is options).
 */
export function shellRun(args: readonly Arg[]): ShellRun & { readonly optionsEnd: number } {
  let i = 0;
  let command = false;
  let stdin = false;
  while (i < args.length) {
    const a = args[i]!.value;
    if (a === '--' || a === '-') {
      i += 1;
      break;
    }
    if (a.startsWith('--')) {
      i += SHELL_LONG_WITH_VALUE.has(a) ? 2 : 1;
      continue;
    }
    if ((a.startsWith('-') || a.startsWith('+')) && a.length > 1) {
      let values = 0;
      for (const ch of a.slice(1)) {
        if (ch === 'c' && a[0] === '-') command = true;
        else if (ch === 's' && a[0] === '-') stdin = true;
        else if (ch === 'o' || ch === 'O') values += 1;
      }
      i += 1 + values;
      continue;
    }
    break;
  }
  const optionsEnd = Math.min(i, args.length);
  if (command) return args[optionsEnd] === undefined ? { kind: 'missing-string', optionsEnd } : { kind: 'string', index: optionsEnd, optionsEnd };
  if (stdin) return { kind: 'stdin', why: '-s', optionsEnd };
  if (args[optionsEnd] === undefined) return { kind: 'stdin', why: 'no script or -c', optionsEnd };
  return { kind: 'file', index: optionsEnd, optionsEnd };
}

/** How an interpreter gets its program: on the line (`-c`, `-e`), from stdin, or from a script file. */
export type InterpreterRun =
  | { readonly kind: 'code' }
  | { readonly kind: 'stdin' }
  | { readonly kind: 'file'; readonly index: number };

type InterpreterRule = (args: readonly Arg[]) => InterpreterRun;

/** For script interpreters (python, perl, ruby, node, php): where the program comes from; undefined for other programs. */
export function interpreterRun(program: string, args: readonly Arg[]): InterpreterRun | undefined {
  const rule = INTERPRETERS.find(([pattern]) => pattern.test(program))?.[1];
  return rule?.(args);
}

/**
 * A generic reader: `code` letters put the program on the line, `file` letters name a script
 * file, `value` letters take the rest of the word or the next word, `attached` letters take
 * only the rest of the word, `interactive` letters read stdin.
 */
function rule(spec: {
  code: string;
  value: string;
  attached?: string;
  interactive?: string;
  file?: string;
  longCode?: readonly string[];
  longValue?: readonly string[];
  longInteractive?: readonly string[];
}): InterpreterRule {
  return (args) => {
    let i = 0;
    let interactive = false;
    while (i < args.length) {
      const a = args[i]!.value;
      if (a === '-') return { kind: 'stdin' };
      if (a === '--') {
        i += 1;
        break;
      }
      if (!a.startsWith('-')) break;
      if (a.startsWith('--')) {
        const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
        if (spec.longCode?.includes(name)) return { kind: 'code' };
        if (spec.longInteractive?.includes(name)) interactive = true;
        i += spec.longValue?.includes(name) && !a.includes('=') ? 2 : 1;
        continue;
      }
      let consumedNext = false;
      for (let j = 1; j < a.length; j += 1) {
        const ch = a[j]!;
        if (spec.code.includes(ch) || spec.file?.includes(ch)) return { kind: 'code' };
        if (spec.interactive?.includes(ch)) interactive = true;
        if (spec.value.includes(ch)) {
          consumedNext = j === a.length - 1;
          break;
        }
        if (spec.attached?.includes(ch)) break;
      }
      i += consumedNext ? 2 : 1;
    }
    const script = args[i];
    if (interactive || script === undefined || script.value === '-') return { kind: 'stdin' };
    return { kind: 'file', index: i };
  };
}

const INTERPRETERS: ReadonlyArray<readonly [RegExp, InterpreterRule]> = [
  [/^(?:python|pypy)[0-9.]*$/, rule({ code: 'cm', value: 'WX', interactive: 'i', longValue: ['--check-hash-based-pycs'] })],
  [/^perl[0-9.]*$/, rule({ code: 'eE', value: 'I', attached: 'Mmxi0lFCdDV' })],
  [/^ruby[0-9.]*$/, rule({ code: 'e', value: 'rICE', attached: 'xFi0KTW', longValue: ['--enable', '--disable', '--encoding', '--external-encoding', '--internal-encoding'] })],
  [/^(?:node|nodejs)$/, rule({
    code: 'ep',
    value: 'rC',
    interactive: 'i',
    longCode: ['--eval', '--print'],
    longInteractive: ['--interactive'],
    longValue: ['--require', '--import', '--loader', '--experimental-loader', '--input-type', '--conditions', '--env-file', '--title', '--inspect-port', '--watch-path', '--redirect-warnings', '--openssl-config', '--icu-data-dir'],
  })],
  [/^php[0-9.]*$/, rule({
    code: 'rBRE',
    file: 'fFS',
    value: 'dczt',
    interactive: 'a',
    longCode: ['--run', '--process-begin', '--process-code', '--process-end', '--file', '--process-file', '--server'],
    longValue: ['--define', '--php-ini', '--zend-extension', '--docroot'],
    longInteractive: ['--interactive'],
  })],
];
