/**
 * Shell and SSH conditions of rules, compiled for matching (globs once, when the gate is
 * built), and the matching itself. Pure. The semantics are documented in gate.ts.
 */
import { posix } from 'node:path';
import type { ShellCondition, SshAction, SshCondition } from '../config/types.js';
import type { ShellCommand } from '../inspect/shell/facts.js';
import { compileNameGlob, type NameMatcher } from './glob.js';

export interface CompiledShell {
  readonly programs: readonly ProgramGlob[] | undefined;
  readonly args: readonly NameMatcher[] | undefined;
  readonly writes: readonly NameMatcher[] | undefined;
  readonly flags: ReadonlySet<string> | undefined;
  readonly unparseable: boolean;
}

export interface CompiledSsh {
  readonly actions: ReadonlySet<SshAction>;
}

interface ProgramGlob {
  /** A glob with `/` matches the program's path; a bare one its name. */
  readonly byPath: boolean;
  readonly glob: NameMatcher;
}

/**
 * Where a program run by a bare allow-listed name may live: `ls` admits `ls`, `/bin/ls`
 * and `/usr/bin/ls`, never `./ls` or `/tmp/x/ls`, which anyone who can write a file can fill.
 */
const SYSTEM_DIRS: ReadonlySet<string> = new Set(['/bin', '/usr/bin', '/sbin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']);

/** Files any command may write without an allow rule saying so: they keep nothing. */
const HARMLESS_WRITES: ReadonlySet<string> = new Set(['/dev/null', '/dev/stdout', '/dev/stderr']);

export function compileShellCondition(c: ShellCondition): CompiledShell {
  return {
    programs: c.programs?.map((glob) => ({ byPath: glob.includes('/'), glob: compileNameGlob(glob) })),
    args: c.args?.map(compileNameGlob),
    writes: c.writes?.map(compileNameGlob),
    flags: c.flags === undefined ? undefined : new Set(c.flags),
    unparseable: c.unparseable,
  };
}

export function compileSshCondition(c: SshCondition): CompiledSsh {
  return { actions: new Set(c.actions) };
}

/**
 * Every shell condition given holds for this command. An allow rule must hold for all of the
 * command (every argument, every file written, a program from a trusted place); a deny or
 * review rule needs only one matching part.
 */
export function matchesCommand(c: CompiledShell, command: ShellCommand, permissive: boolean): boolean {
  if (c.unparseable || c.flags !== undefined) return false;
  if (c.programs !== undefined && !c.programs.some((p) => programMatches(p, command, permissive))) return false;
  if (permissive) {
    if (c.args !== undefined && !command.args.every((arg) => plainArgument(arg) && c.args!.some((g) => g.test(normalized(arg))))) return false;
    const written = command.redirections.filter((r) => r.writes && !HARMLESS_WRITES.has(r.target));
    if (written.length > 0 && (c.writes === undefined || !written.every((r) => plainArgument(r.target) && c.writes!.some((g) => g.test(normalized(r.target)))))) {
      return false;
    }
    return true;
  }
  if (c.args !== undefined && !command.args.some((arg) => c.args!.some((g) => g.test(arg) || g.test(normalized(arg))))) return false;
  if (c.writes !== undefined && !command.redirections.some((r) => r.writes && c.writes!.some((g) => g.test(r.target) || g.test(normalized(r.target))))) {
    return false;
  }
  return true;
}

function programMatches(p: ProgramGlob, command: ShellCommand, permissive: boolean): boolean {
  if (p.byPath) {
    if (permissive) return plainArgument(command.path) && p.glob.test(normalized(command.path));
    return p.glob.test(command.path) || p.glob.test(normalized(command.path));
  }
  if (!p.glob.test(command.program)) return false;
  if (!permissive || !command.path.includes('/')) return true;
  return SYSTEM_DIRS.has(posix.dirname(posix.normalize(command.path)));
}

/**
 * An argument an allow rule can vouch for: one the shell passes on as written. Expansions,
 * brace expansion and glob patterns that could reach `..` are left to the target's shell to
 * resolve, so `/var/log/$X`, `/var/log/{a,../../etc/shadow}` or `/var/log/.?/.?/etc/shadow`
 * could end up anywhere: they never match an allow rule's globs.
 */
function plainArgument(arg: string): boolean {
  if (/[$`{}[\]?]/.test(arg)) return false;
  return !arg.split('/').some((segment) => segment.startsWith('.') && segment.includes('*'));
}

/** `..` segments resolved, so `/var/log/../../etc/shadow` is matched as `/etc/shadow`. */
function normalized(path: string): string {
  return path.includes('..') || path.includes('//') || path.includes('/./') ? posix.normalize(path) : path;
}

export function matchesFlags(c: CompiledShell, flags: readonly string[]): boolean {
  return c.flags !== undefined && flags.some((flag) => c.flags!.has(flag));
}
