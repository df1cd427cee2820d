/**
 * The shell-command inspector: what programs a command line would run when given to
 * `sh -c` / `bash -c` on the target, with their arguments and redirections, seen through
 * quoting, control flow, substitutions and wrappers — and flags for what cannot be known.
 * Pure: text in, facts out; never throws.
 */
import type { CompoundCommand, Node, Redirect, Script, SimpleCommand, Word } from './ast.js';
import { environmentRisk } from './environment.js';
import { DepthBudget, ShellLimitError, ShellSyntaxError } from './errors.js';
import type { ShellCommand, ShellFlag, ShellInspection, ShellRedirection } from './facts.js';
import { parseShell } from './parser.js';
import { resolveCommand, type ResolveSink } from './resolve.js';
import { argOf, syntheticArg, wordValue, type Arg } from './words.js';

/** Longer lines are not inspected (flagged `unsupported`). */
export const MAX_LINE_BYTES = 64 * 1024;
const MAX_NOTES = 32;
const MAX_REDIRECTIONS = 10_000;

const WRITING_OPERATORS = new Set(['>', '>>', '>|', '&>', '&>>', '<>']);
/** `>&2`, `>&-`, `>&1-`: duplicating or closing a descriptor, not writing a file. */
const DESCRIPTOR_TARGET = /^(?:[0-9]+-?|-)$/;

export function inspectShell(line: string): ShellInspection {
  if (Buffer.byteLength(line, 'utf8') > MAX_LINE_BYTES) {
    return unsupported(`the command line is longer than ${MAX_LINE_BYTES} bytes and was not inspected`);
  }
  const budget = new DepthBudget();
  const inspector = new Inspector(budget);
  if (line.includes('\0')) {
    inspector.flag('unsupported', 'the command line contains a NUL character; the shell would see only the text before it');
  }
  try {
    inspector.walk(parseShell(line, budget), { wrappers: [], redirections: [] });
  } catch (error) {
    if (error instanceof ShellSyntaxError) {
      return error.position === undefined ? { ok: false, error: error.message } : { ok: false, error: error.message, position: error.position };
    }
    if (error instanceof ShellLimitError) return unsupported(`the command line is not inspected: ${error.message}`);
    if (error instanceof RangeError) return unsupported('the command line is not inspected: it nests too deeply');
    return { ok: false, error: `the command line could not be inspected: ${error instanceof Error ? error.message : String(error)}` };
  }
  return inspector.finish();
}

function unsupported(note: string): ShellInspection {
  return { ok: true, commands: [], flags: ['unsupported'], notes: [note] };
}

/** What applies to the commands inside a construct: the wrappers running it, redirections in force. */
interface Scope {
  readonly wrappers: readonly string[];
  readonly redirections: readonly ShellRedirection[];
}

class Inspector implements ResolveSink {
  readonly commands: ShellCommand[] = [];
  readonly flags: ShellFlag[] = [];
  readonly notes: string[] = [];
  private readonly noted = new Set<string>();
  private omittedNotes = 0;
  private redirectionCount = 0;

  constructor(readonly budget: DepthBudget) {}

  command(command: ShellCommand): void {
    // A compound's redirections are repeated on every command inside it: bound the total.
    this.redirectionCount += command.redirections.length;
    if (this.redirectionCount > MAX_REDIRECTIONS) throw new ShellLimitError(`more than ${MAX_REDIRECTIONS} redirections`);
    this.commands.push(command);
  }

  flag(flag: ShellFlag, note: string): void {
    if (!this.flags.includes(flag)) this.flags.push(flag);
    if (this.noted.has(note)) return;
    this.noted.add(note);
    // Notes end up in refusal messages: keep them readable on hostile input.
    if (this.notes.length < MAX_NOTES) this.notes.push(note);
    else this.omittedNotes += 1;
  }

  finish(): ShellInspection {
    const notes = this.omittedNotes === 0 ? this.notes : [...this.notes, `… and ${this.omittedNotes} more`];
    return { ok: true, commands: this.commands, flags: this.flags, notes };
  }

  script(text: string, source: Arg, wrappers: readonly string[], redirections: readonly ShellRedirection[], bestEffort: boolean): void {
    this.budget.within(() => {
      let nodes: Script;
      try {
        nodes = parseShell(text, this.budget);
      } catch (error) {
        if (!(error instanceof ShellSyntaxError)) throw error;
        if (bestEffort) return;
        throw new ShellSyntaxError(`in the script run by ${wrappers.at(-1) ?? 'a wrapper'}: ${error.message}`, source.position);
      }
      this.walk(nodes, { wrappers, redirections });
    });
  }

  walk(nodes: Script, scope: Scope): void {
    for (const node of nodes) this.node(node, scope);
  }

  private node(node: Node, scope: Scope): void {
    this.budget.within(() => {
      if (node.kind === 'simple') this.simple(node, scope);
      else if (node.kind === 'compound') this.compound(node, scope);
      else this.node(node.body, scope);
    });
  }

  /** `before` are words put in front of the command's own (`time` read as a program). */
  private simple(node: SimpleCommand, scope: Scope, before: readonly Arg[] = []): void {
    for (const assignment of node.assignments) {
      const risk = environmentRisk(assignment.name);
      if (risk) this.flag(risk.flag, risk.note);
      this.expansions(assignment.values, scope);
    }
    const own = node.redirects.map(redirectionFact);
    const redirections = own.length === 0 ? scope.redirections : [...scope.redirections, ...own];
    if (node.words.length > 0) {
      resolveCommand(
        { argv: [...before, ...node.words.map(argOf)], wrappers: scope.wrappers, redirections, placeholders: [], appendsInput: undefined },
        this,
      );
    } else if (own.length > 0) {
      this.redirectionOnly(redirections, scope);
    }
    this.expansions(node.words, scope);
    this.redirectExpansions(node.redirects, scope);
  }

  private compound(node: CompoundCommand, scope: Scope): void {
    if (node.unsupported !== undefined) this.flag('unsupported', node.unsupported);
    const own = node.redirects.map(redirectionFact);
    const redirections = own.length === 0 ? scope.redirections : [...scope.redirections, ...own];
    this.expansions(node.words, scope);
    for (const nested of node.scripts) this.walk(nested, scope);
    const before = this.commands.length;
    const first = node.body[0];
    if (node.keyword === 'time' && first?.kind === 'simple' && first.words[0] !== undefined && wordValue(first.words[0]).startsWith('-')) {
      // `time -f %e cmd`: /usr/bin/time's options in sh (bash would run a command named `-f`).
      this.simple(first, scope, [syntheticArg('time', first.words[0].start)]);
      this.walk(node.body.slice(1), { wrappers: [...scope.wrappers, 'time'], redirections });
    } else {
      if (node.wrapper !== undefined) {
        this.command({ program: node.wrapper, path: node.wrapper, args: [], redirections, wrappers: scope.wrappers });
      }
      const inner: Scope = { wrappers: node.wrapper === undefined ? scope.wrappers : [...scope.wrappers, node.wrapper], redirections };
      this.walk(node.body, inner);
    }
    if (this.commands.length === before && own.length > 0) this.redirectionOnly(redirections, scope);
    this.redirectExpansions(node.redirects, scope);
  }

  /**
   * A redirection with no program (`> /etc/passwd` truncates it) is reported as a command
   * with an empty program name, so that write rules still see it.
   */
  private redirectionOnly(redirections: readonly ShellRedirection[], scope: Scope): void {
    this.command({ program: '', path: '', args: [], redirections, wrappers: scope.wrappers });
  }

  private expansions(words: readonly Word[], scope: Scope): void {
    // Substitutions run in the shell expanding the word, before any wrapper or redirection applies.
    const inShell: Scope = { wrappers: scope.wrappers, redirections: scope.redirections };
    for (const word of words) {
      for (const part of word.parts) {
        if (part.kind === 'expansion') for (const nested of part.scripts) this.walk(nested, inShell);
      }
    }
  }

  private redirectExpansions(redirects: readonly Redirect[], scope: Scope): void {
    this.expansions(redirects.map((r) => r.target), scope);
    for (const r of redirects) for (const nested of r.hereDocument?.scripts ?? []) this.walk(nested, scope);
  }
}

function redirectionFact(r: Redirect): ShellRedirection {
  const target = wordValue(r.target);
  const writes = WRITING_OPERATORS.has(r.op) || (r.op === '>&' && !DESCRIPTOR_TARGET.test(target));
  return r.fd === undefined ? { op: r.op, target, writes } : { op: r.op, fd: r.fd, target, writes };
}
