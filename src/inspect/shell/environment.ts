/**
 * Environment variables that make a program run code or pick another program
 * (`BASH_ENV=/tmp/x bash -c true`, `PATH=/tmp:$PATH ls`, `env 'BASH_FUNC_ls%%=() { …; }' bash -c ls`).
 * Setting one — before a command, through env or sudo, or with export — is flagged.
 */
import type { ShellFlag } from './facts.js';

export interface EnvironmentRisk {
  readonly flag: ShellFlag;
  readonly note: string;
}

const SHELL_CODE = new Set(['BASH_ENV', 'ENV', 'PS0', 'PS1', 'PS2', 'PS4', 'PROMPT_COMMAND', 'SHELLOPTS', 'BASHOPTS', 'BASH_LOADABLES_PATH']);
const LOADER = new Set(['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'GCONV_PATH']);
const INTERPRETER = new Set(['PERL5OPT', 'PERL5LIB', 'PERLLIB', 'NODE_OPTIONS', 'NODE_PATH', 'RUBYOPT', 'RUBYLIB', 'PYTHONSTARTUP', 'PYTHONPATH', 'PYTHONHOME']);
const PROGRAM_NAMES = new Set([
  'GIT_SSH', 'GIT_SSH_COMMAND', 'GIT_EXTERNAL_DIFF', 'GIT_PAGER', 'GIT_EDITOR', 'GIT_ASKPASS', 'PAGER', 'MANPAGER',
  'EDITOR', 'VISUAL', 'SUDO_EDITOR', 'SUDO_ASKPASS', 'SSH_ASKPASS', 'LESSOPEN', 'LESSCLOSE', 'BROWSER',
]);

export function environmentRisk(name: string): EnvironmentRisk | undefined {
  if (name === 'PATH') return { flag: 'variable_command', note: 'PATH is set, so which program a command name runs is not known' };
  if (SHELL_CODE.has(name)) return { flag: 'eval', note: `${name} is set: a shell runs or expands it as code` };
  if (name.startsWith('BASH_FUNC_') || name.includes('%%') || name.includes('()')) {
    return { flag: 'eval', note: `${name} defines a bash function through the environment` };
  }
  if (LOADER.has(name)) return { flag: 'eval', note: `${name} is set: it loads other code into the program` };
  if (INTERPRETER.has(name)) return { flag: 'eval', note: `${name} is set: it makes an interpreter load other code` };
  if (PROGRAM_NAMES.has(name)) return { flag: 'eval', note: `${name} is set: it names a program that another program runs` };
  return undefined;
}
