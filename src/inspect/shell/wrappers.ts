/**
 * What each wrapper runs, read from its arguments the way the wrapper itself reads them
 * (its option table, fixed operands, `-c` strings, `{}` placeholders). Keyed by program name.
 */
import { splitEnvString } from './env-split.js';
import { POSIX_SHELLS, shellRun } from './interpreters.js';
import type { OptionSpec, ScannedOptions } from './options.js';
import type { Resolution } from './resolve.js';
import { quote, syntheticArg, type Arg } from './words.js';

export type Handler = (r: Resolution, args: readonly Arg[]) => void;

const has = (s: ScannedOptions, ...names: string[]): boolean => names.some((n) => s.seen.has(n));

const sudo: Handler = (r, args) => {
  const s = r.options(args, {
    shortValue: 'aCcDgpRrTtUu',
    shortOptional: 'h',
    shortFlags: 'ABbEeHiKklNnPSsVv',
    longValue: ['auth-type', 'close-from', 'login-class', 'chdir', 'group', 'host', 'prompt', 'chroot', 'role', 'type', 'command-timeout', 'other-user', 'user'],
    longOptional: ['preserve-env'],
    longFlags: ['askpass', 'background', 'bell', 'edit', 'set-home', 'help', 'login', 'remove-timestamp', 'reset-timestamp', 'list', 'non-interactive', 'no-update', 'preserve-groups', 'stdin', 'shell', 'version', 'validate'],
  });
  if (!s) return;
  // These modes run no command (sudo -e edits files, -l only lists what may run).
  if (has(s, 'e', 'edit', 'l', 'list', 'v', 'validate', 'K', 'remove-timestamp', 'V', 'version', 'help')) return;
  if (s.seen.get('h') === true) {
    // `-h` alone is help, `-hHOST` a remote host; sudo versions differ on `-h HOST`, so do not guess.
    if (s.operand < s.args.length) r.sink.flag('unsupported', 'sudo -h followed by words: help or a host name, so what it runs is not known');
    return;
  }
  const start = r.assignments(s.args, s.operand, /^[A-Za-z_][A-Za-z0-9_]*=/);
  const rest = s.args.slice(start);
  if (rest.length === 0 && has(s, 's', 'shell', 'i', 'login')) {
    r.stdin('sudo -s/-i without a command starts a shell that reads commands from standard input');
    return;
  }
  r.inner(rest);
};

const doas: Handler = (r, args) => {
  const s = r.options(args, { shortValue: 'aCu', shortFlags: 'Lns' });
  if (!s || has(s, 'L', 'C')) return;
  const rest = s.args.slice(s.operand);
  if (rest.length === 0 && has(s, 's')) {
    r.stdin('doas -s without a command starts a shell that reads commands from standard input');
    return;
  }
  r.inner(rest);
};

const env: Handler = (r, args) => {
  const s = r.options(
    args,
    {
      shortValue: 'uCSa',
      shortFlags: 'i0v',
      longValue: ['unset', 'chdir', 'split-string', 'argv0'],
      longOptional: ['block-signal', 'default-signal', 'ignore-signal'],
      longFlags: ['ignore-environment', 'null', 'debug', 'list-signal-handling', 'help', 'version'],
      dashIsOption: true,
    },
    (name, value, from) => {
      if (name !== 'S' && name !== 'split-string') return undefined;
      return splitEnvString(value, from.position).map((w) => syntheticArg(w.value, from.position, w.dynamic || from.dynamic));
    },
  );
  if (!s || has(s, 'help', 'version')) return;
  const start = r.assignments(s.args, s.operand, /^[^=]+=/);
  r.inner(s.args.slice(start));
};

/** Wrappers that are options, then N fixed operands, then the command. */
function simpleWrapper(spec: OptionSpec, operandsBefore = 0, noCommand: readonly string[] = []): Handler {
  return (r, args) => {
    const s = r.options(args, spec);
    if (!s || has(s, ...noCommand)) return;
    r.prefix(s.args.slice(s.operand, s.operand + operandsBefore));
    if (s.args.length < s.operand + operandsBefore) return;
    r.inner(s.args.slice(s.operand + operandsBefore));
  };
}

const nice: Handler = (r, args) => {
  const legacy = args[0] !== undefined && /^-[-+]?[0-9]+$/.test(args[0].value) ? 1 : 0;
  simpleWrapper({ shortValue: 'n', longValue: ['adjustment'], longFlags: ['help', 'version'] }, 0, ['help', 'version'])(r, args.slice(legacy));
};

const command: Handler = (r, args) => {
  const s = r.options(args, { shortFlags: 'pvV' });
  if (!s || has(s, 'v', 'V')) return; // command -v/-V only describe
  r.inner(s.args.slice(s.operand));
};

const exec: Handler = (r, args) => {
  const s = r.options(args, { shortValue: 'a', shortFlags: 'cl' });
  if (!s) return;
  const rest = s.args.slice(s.operand);
  const first = rest[0];
  if (first !== undefined && (first.dynamic || r.placeholderIn(first) !== undefined)) {
    r.sink.flag('eval', `exec runs a computed command: ${quote(first.value)}`);
  }
  r.inner(rest);
};

const chrt: Handler = (r, args) => {
  const s = r.options(args, {
    shortValue: 'TPD',
    shortFlags: 'abdefiomrRpvhV',
    longValue: ['sched-runtime', 'sched-period', 'sched-deadline'],
    longFlags: ['all-tasks', 'batch', 'deadline', 'ext', 'fifo', 'idle', 'other', 'rr', 'reset-on-fork', 'max', 'pid', 'verbose', 'help', 'version'],
  });
  if (!s || has(s, 'p', 'pid', 'm', 'max', 'h', 'help', 'V', 'version')) return;
  const priority = s.args[s.operand];
  if (priority === undefined) return;
  r.prefix([priority]);
  // A non-numeric "priority" makes chrt fail; reporting it as the program errs on the safe side.
  r.inner(s.args.slice(/^[0-9]+$/.test(priority.value) ? s.operand + 1 : s.operand));
};

const xargs: Handler = (r, args) => {
  const s = r.options(args, {
    shortValue: 'IanPdLsE',
    shortOptional: 'iel',
    shortFlags: '0rtpxo',
    longValue: ['arg-file', 'delimiter', 'max-lines', 'max-args', 'max-procs', 'max-chars', 'process-slot-var'],
    longOptional: ['replace', 'eof'],
    longFlags: ['null', 'no-run-if-empty', 'verbose', 'interactive', 'exit', 'open-tty', 'show-limits', 'help', 'version'],
  });
  if (!s || has(s, 'help', 'version')) return;
  const replace = s.seen.get('I') ?? s.seen.get('i') ?? s.seen.get('replace');
  const placeholder = replace === undefined ? undefined : replace === true ? '{}' : replace;
  const rest = s.args.slice(s.operand);
  if (rest.length === 0) {
    r.inner([syntheticArg('echo', args[0]?.position)], { appendsInput: undefined });
    return;
  }
  // With a replacement string xargs substitutes its input there instead of appending it.
  r.inner(rest, placeholder === undefined ? { appendsInput: 'xargs' } : { placeholders: [placeholder], appendsInput: undefined });
};

const FIND_ACTIONS = new Set(['-exec', '-execdir', '-ok', '-okdir']);

const find: Handler = (r, args) => {
  if (args.some((a) => a.splits)) {
    r.sink.flag('variable_command', "an unquoted expansion in find's arguments can add -exec and so run any program");
  }
  if (r.inv.appendsInput !== undefined) {
    r.sink.flag('variable_command', `find's arguments come partly from ${r.inv.appendsInput}'s input and can add -exec`);
  }
  for (let i = 0; i < args.length; i += 1) {
    if (!FIND_ACTIONS.has(args[i]!.value)) continue;
    let j = i + 1;
    while (j < args.length && args[j]!.value !== ';' && !(args[j]!.value === '+' && args[j - 1]!.value === '{}')) j += 1;
    r.inner(args.slice(i + 1, j), { placeholders: ['{}'], appendsInput: undefined });
    i = j;
  }
};

const watch: Handler = (r, args) => {
  const s = r.options(args, {
    shortValue: 'nq',
    shortOptional: 'd',
    shortFlags: 'bcCegptwxrhv',
    longValue: ['interval', 'equexit'],
    longOptional: ['differences'],
    longFlags: ['beep', 'color', 'no-color', 'errexit', 'chgexit', 'precise', 'no-title', 'no-wrap', 'exec', 'no-rerun', 'help', 'version'],
  });
  if (!s || has(s, 'h', 'help', 'v', 'version')) return;
  const rest = s.args.slice(s.operand);
  if (rest.length === 0) return;
  if (has(s, 'x', 'exec')) {
    r.inner(rest);
    return;
  }
  // watch joins its arguments with spaces and runs them with sh -c.
  const text = rest.map((a) => a.value).join(' ');
  r.script(syntheticArg(text, rest[0]!.position, rest.some((a) => a.dynamic)));
};

const multicall: Handler = (r, args) => {
  const first = args[0];
  if (first === undefined) return;
  if (first.value === '--') r.inner(args.slice(1));
  else if (!first.value.startsWith('-')) r.inner(args);
};

export const shell: Handler = (r, args) => {
  const run = shellRun(args);
  r.prefix(args.slice(0, run.optionsEnd));
  const posix = POSIX_SHELLS.has(r.name);
  switch (run.kind) {
    case 'string':
      if (!posix) {
        r.sink.flag('unsupported', `${r.name} -c: ${r.name} syntax is not inspected`);
        return;
      }
      r.script(args[run.index]!);
      return;
    case 'missing-string':
      if (r.inv.appendsInput !== undefined) r.sink.flag('eval', `the script for ${r.name} -c comes from ${r.inv.appendsInput}'s input`);
      return;
    case 'stdin':
      r.stdin(`${r.name} reads its commands from standard input (${run.why})`);
      return;
    case 'file':
      r.scriptFile(args[run.index]!); // a script file's contents are not known here; the program rules decide
      return;
  }
};

/** su and runuser: GNU-style options anywhere; `-c` gives the shell a command string. */
const su: Handler = (r, args) => {
  let script: Arg | undefined;
  const operands: Arg[] = [];
  let rest: readonly Arg[] = args;
  let direct = false;
  for (;;) {
    const s = r.options(
      rest,
      {
        shortValue: 'cgGswu',
        shortFlags: 'flmpPhV',
        longValue: ['command', 'session-command', 'group', 'supp-group', 'shell', 'whitelist-environment', 'user'],
        longFlags: ['fast', 'login', 'preserve-environment', 'pty', 'help', 'version'],
        dashIsOption: true,
      },
      (name, value, from) => {
        if (name === 'c' || name === 'command' || name === 'session-command') {
          script = value === from.value ? from : syntheticArg(value, from.position, from.dynamic);
        }
        return undefined;
      },
    );
    if (!s) return;
    if (has(s, 'h', 'help', 'V', 'version')) return;
    if (r.name === 'runuser' && has(s, 'u', 'user')) direct = true;
    if (s.operand >= s.args.length) break;
    if (direct) {
      operands.push(...s.args.slice(s.operand));
      break;
    }
    operands.push(s.args[s.operand]!);
    rest = s.args.slice(s.operand + 1);
  }
  if (script !== undefined) {
    r.script(script);
    return;
  }
  if (direct) {
    r.inner(operands);
    return;
  }
  if (operands.length > 1) {
    r.sink.flag('unsupported', `${r.name}: arguments after the user name are passed to the user's shell, which is not modelled`);
    return;
  }
  r.stdin(`${r.name} without -c starts a shell that reads commands from standard input`);
};

const flock: Handler = (r, args) => {
  const s = r.options(args, {
    shortValue: 'wE',
    shortFlags: 'sexnuoFhV',
    longValue: ['timeout', 'conflict-exit-code'],
    longFlags: ['shared', 'exclusive', 'unlock', 'nonblock', 'nb', 'close', 'no-fork', 'verbose', 'help', 'version'],
  });
  if (!s || has(s, 'h', 'help', 'V', 'version')) return;
  const afterFile = s.args.slice(s.operand + 1);
  const first = afterFile[0];
  if (first !== undefined && (first.value === '-c' || first.value === '--command')) {
    const text = afterFile[1];
    if (text !== undefined) r.script(text);
    return;
  }
  r.inner(afterFile);
};

/** util-linux script: records a session of `-c COMMAND` (run by the user's shell) or of an interactive shell. */
const scriptCommand: Handler = (r, args) => {
  let command: Arg | undefined;
  const s = r.options(
    args,
    {
      shortValue: 'cTBIOmEo',
      shortOptional: 't',
      shortFlags: 'aefqhV',
      longValue: ['command', 'log-timing', 'log-io', 'log-in', 'log-out', 'logging-format', 'echo', 'output-limit'],
      longOptional: ['timing'],
      longFlags: ['append', 'return', 'flush', 'force', 'quiet', 'help', 'version'],
    },
    (name, value, from) => {
      if (name === 'c' || name === 'command') command = value === from.value ? from : syntheticArg(value, from.position, from.dynamic);
      return undefined;
    },
  );
  if (!s || has(s, 'h', 'help', 'V', 'version')) return;
  if (command !== undefined) r.script(command);
  else r.stdin('script without -c starts a shell that reads commands from standard input');
};

/** at and batch schedule the commands read from stdin (or -f FILE) to run later. */
const at: Handler = (r, args) => {
  const s = r.options(args, { shortValue: 'qftT', shortFlags: 'VmMlrdbcvo' });
  if (!s || has(s, 'f', 'l', 'r', 'd', 'c', 'V')) return;
  r.stdin(`${r.name} schedules commands read from standard input`);
};

/** crontab installs a table of commands to run later: from a file, or from stdin (`-` or none). */
const crontab: Handler = (r, args) => {
  const s = r.options(args, { shortValue: 'u', shortFlags: 'lreiTsnc' });
  if (!s || has(s, 'l', 'r', 'e', 'T', 'c')) return;
  const file = s.args[s.operand];
  if (file === undefined || file.value === '-') r.stdin('crontab installs commands read from standard input');
  else if (file.processSubstitution) r.sink.flag('stdin_script', `crontab installs commands produced by a process substitution: ${quote(file.value)}`);
};

/** sg GROUP [-c] COMMAND: runs COMMAND with /bin/sh -c. */
const sg: Handler = (r, args) => {
  const rest = args[0]?.value === '-' ? args.slice(1) : args;
  if (rest.length < 2) {
    if (rest.length === 1) r.stdin('sg without a command starts a shell that reads commands from standard input');
    return;
  }
  r.prefix([rest[0]!]);
  const command = rest[1]!.value === '-c' ? rest[2] : rest[1];
  if (command !== undefined) r.script(command);
};

const evalBuiltin: Handler = (r, args) => {
  r.sink.flag('eval', 'eval runs its arguments as shell code');
  const code = args[0]?.value === '--' ? args.slice(1) : args;
  if (code.length === 0) return;
  const text = code.map((a) => a.value).join(' ');
  r.script(syntheticArg(text, code[0]!.position, code.some((a) => a.dynamic)), true);
};

const trap: Handler = (r, args) => {
  r.sink.flag('eval', 'trap runs its first argument as shell code when a signal arrives');
  const rest = args[0]?.value === '--' ? args.slice(1) : args;
  const action = rest[0];
  if (action !== undefined && rest.length >= 2 && !action.value.startsWith('-')) r.script(action, true);
};

const sourceFile: Handler = (r, args) => {
  r.sink.flag('eval', `${r.name} ${quote(args[0]?.value ?? '')} runs commands from a file that is not inspected`);
};

const flaggedWhen = (option: string, note: string): Handler => (r, args) => {
  if (args.some((a) => a.value.startsWith('-') && !a.value.startsWith('--') && a.value.includes(option))) r.sink.flag('eval', note);
};

const declaration: Handler = (r, args) => {
  for (const a of args) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\+?=/.exec(a.value);
    if (m) r.environment(m[1]!);
  }
};

export const HANDLERS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  ['sudo', sudo],
  ['doas', doas],
  ['env', env],
  ['nice', nice],
  ['nohup', simpleWrapper({ longFlags: ['help', 'version'] }, 0, ['help', 'version'])],
  ['timeout', simpleWrapper({ shortValue: 'ks', shortFlags: 'fpv', longValue: ['kill-after', 'signal'], longFlags: ['foreground', 'preserve-status', 'verbose', 'help', 'version'] }, 1, ['help', 'version'])],
  ['time', simpleWrapper({ shortValue: 'fo', shortFlags: 'apqvV', longValue: ['format', 'output'], longFlags: ['append', 'portability', 'quiet', 'verbose', 'version', 'help'] }, 0, ['V', 'version', 'help'])],
  ['command', command],
  ['exec', exec],
  ['builtin', (r, args) => r.inner(args)],
  ['stdbuf', simpleWrapper({ shortValue: 'ioe', longValue: ['input', 'output', 'error'], longFlags: ['help', 'version'] }, 0, ['help', 'version'])],
  ['ionice', simpleWrapper({ shortValue: 'cnpPu', shortFlags: 'thV', longValue: ['class', 'classdata', 'pid', 'pgid', 'uid'], longFlags: ['ignore', 'help', 'version'] }, 0, ['p', 'P', 'u', 'pid', 'pgid', 'uid', 'h', 'V', 'help', 'version'])],
  ['chrt', chrt],
  ['setsid', simpleWrapper({ shortFlags: 'cfwhV', longFlags: ['ctty', 'fork', 'wait', 'help', 'version'] }, 0, ['h', 'V', 'help', 'version'])],
  ['taskset', simpleWrapper({ shortFlags: 'apchV', longFlags: ['all-tasks', 'pid', 'cpu-list', 'help', 'version'] }, 1, ['p', 'pid', 'h', 'V', 'help', 'version'])],
  ['chroot', (r, args) => {
    const s = r.options(args, { longValue: ['userspec', 'groups'], longFlags: ['skip-chdir', 'help', 'version'] });
    if (!s || has(s, 'help', 'version') || s.operand >= s.args.length) return;
    r.prefix([s.args[s.operand]!]);
    const rest = s.args.slice(s.operand + 1);
    if (rest.length === 0) r.stdin('chroot without a command starts a shell that reads commands from standard input');
    else r.inner(rest);
  }],
  ['pkexec', (r, args) => {
    const s = r.options(args, { longValue: ['user'], longFlags: ['disable-internal-agent', 'keep-cwd', 'help', 'version'] });
    if (!s || has(s, 'help', 'version')) return;
    const rest = s.args.slice(s.operand);
    if (rest.length === 0) r.stdin('pkexec without a program starts a shell that reads commands from standard input');
    else r.inner(rest);
  }],
  ['flock', flock],
  ['script', scriptCommand],
  ['at', at],
  ['batch', at],
  ['crontab', crontab],
  ['sg', sg],
  ['xargs', xargs],
  ['find', find],
  ['watch', watch],
  ['busybox', multicall],
  ['toybox', multicall],
  ['su', su],
  ['runuser', su],
  ['eval', evalBuiltin],
  ['trap', trap],
  ['source', sourceFile],
  ['.', sourceFile],
  ['alias', (r) => r.sink.flag('eval', 'alias defines commands that are not inspected')],
  ['hash', flaggedWhen('p', 'hash -p maps a command name to another program')],
  ['enable', flaggedWhen('f', 'enable -f loads a builtin from a shared library')],
  ['mapfile', flaggedWhen('C', 'mapfile -C runs a callback as shell code')],
  ['readarray', flaggedWhen('C', 'readarray -C runs a callback as shell code')],
  ['export', declaration],
  ['declare', declaration],
  ['typeset', declaration],
  ['local', declaration],
  ['readonly', declaration],
]);
