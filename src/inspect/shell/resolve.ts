/**
 * From a command's words to the programs it runs: the command itself, then — for wrappers
 * (`sudo`, `env`, `xargs`, `find -exec`, `sh -c` …) — what they run, reported with the
 * wrapper names outermost first. Also flags what cannot be known from the words: computed
 * or globbed program names, code evaluated from strings, programs read from stdin.
 */
import { DepthBudget } from './errors.js';
import { environmentRisk } from './environment.js';
import type { ShellCommand, ShellFlag, ShellRedirection } from './facts.js';
import { interpreterRun, OTHER_SHELLS, POSIX_SHELLS } from './interpreters.js';
import { scanOptions, type OptionSpec, type ScannedOptions } from './options.js';
import { oneLine, quote, type Arg } from './words.js';
import { HANDLERS, shell } from './wrappers.js';

export interface ResolveSink {
  readonly budget: DepthBudget;
  command(command: ShellCommand): void;
  flag(flag: ShellFlag, note: string): void;
  /**
   * Inspects `text` as a shell script run under `wrappers`. With `bestEffort`, a script that
   * does not parse is skipped (it was flagged already); otherwise its syntax error is the line's.
   */
  script(text: string, source: Arg, wrappers: readonly string[], redirections: readonly ShellRedirection[], bestEffort: boolean): void;
}

export interface Invocation {
  readonly argv: readonly Arg[];
  readonly wrappers: readonly string[];
  readonly redirections: readonly ShellRedirection[];
  /** Text a wrapper replaces with run-time input (`xargs -I R`, find's `{}`). */
  readonly placeholders: readonly string[];
  /** Set when a wrapper appends run-time input to the words (xargs): its name. */
  readonly appendsInput: string | undefined;
}

export function resolveCommand(inv: Invocation, sink: ResolveSink): void {
  sink.budget.within(() => new Resolution(inv, sink).run());
}

export class Resolution {
  constructor(
    readonly inv: Invocation,
    readonly sink: ResolveSink,
  ) {}

  get name(): string {
    return this.inv.argv[0]!.program;
  }

  run(): void {
    const [word, ...args] = this.inv.argv;
    if (word === undefined) return;
    this.sink.command({
      program: word.program,
      path: word.value,
      args: args.map((a) => a.value),
      redirections: this.inv.redirections,
      wrappers: this.inv.wrappers,
    });
    const placeholder = this.placeholderIn(word);
    if (word.dynamic || placeholder !== undefined) {
      const source = placeholder !== undefined ? `replaced by ${this.inv.wrappers.at(-1) ?? 'a wrapper'} with its input` : 'an expansion';
      this.sink.flag('variable_command', `${quote(word.value)} is ${source}, used as a command name`);
      return;
    }
    if (word.glob) {
      this.sink.flag('glob_command', `${quote(word.value)} has glob or brace-expansion characters in the command name`);
      return;
    }
    if (ARITHMETIC_EVALUATORS.has(word.program)) {
      for (const a of args) {
        if (!a.literalCode || !a.value.includes('[')) continue;
        this.sink.flag('eval', `${word.program} may evaluate a $( … ) written inside an array subscript: ${quote(a.value)}`);
        this.script(a, true);
      }
    }
    const handler = HANDLERS.get(word.program) ?? (POSIX_SHELLS.has(word.program) || OTHER_SHELLS.has(word.program) ? shell : undefined);
    if (handler) {
      handler(this, args);
      return;
    }
    const run = interpreterRun(word.program, args);
    if (run?.kind === 'stdin') this.stdin(`${word.program} reads its program from standard input`);
    else if (run?.kind === 'file') this.scriptFile(args[run.index]!);
  }

  /** A script file is not inspected (its contents are not on the line) unless it is a pipe from a command. */
  scriptFile(file: Arg): void {
    if (file.processSubstitution) {
      this.sink.flag('stdin_script', `${this.name} runs a program produced by a process substitution: ${quote(file.value)}`);
    }
  }

  placeholderIn(arg: Arg): string | undefined {
    return this.inv.placeholders.find((p) => arg.value.includes(p));
  }

  /** Resolves the wrapped command `argv` with this program as its innermost wrapper. */
  inner(argv: readonly Arg[], extra: { placeholders?: readonly string[]; appendsInput?: string | undefined } = {}): void {
    if (argv.length === 0) {
      if (this.inv.appendsInput !== undefined) {
        this.sink.flag('variable_command', `the program ${this.name} runs comes from ${this.inv.appendsInput}'s input`);
      }
      return;
    }
    resolveCommand(
      {
        argv,
        wrappers: [...this.inv.wrappers, this.name],
        redirections: this.inv.redirections,
        placeholders: [...this.inv.placeholders, ...(extra.placeholders ?? [])],
        appendsInput: 'appendsInput' in extra ? extra.appendsInput : this.inv.appendsInput,
      },
      this.sink,
    );
  }

  /** Runs `source`'s value as a shell script under this program. */
  script(source: Arg, bestEffort = false): void {
    const placeholder = this.placeholderIn(source);
    const dynamic = source.dynamic || placeholder !== undefined;
    if (dynamic && !bestEffort) {
      const from = placeholder !== undefined ? `${this.inv.wrappers.at(-1) ?? 'a wrapper'}'s input` : 'an expansion';
      this.sink.flag('eval', `the script run by ${this.name} is built from ${from} at run time: ${quote(source.value)}`);
    }
    this.sink.script(source.value, source, [...this.inv.wrappers, this.name], this.inv.redirections, bestEffort || dynamic);
  }

  /** Words a wrapper reads before the wrapped command: an unquoted expansion or glob there can change which program runs. */
  prefix(args: readonly Arg[]): void {
    for (const a of args) {
      if (a.splits) this.sink.flag('variable_command', `an unquoted expansion in ${this.name}'s options (${quote(a.value)}) can change which program runs`);
      if (a.glob) this.sink.flag('glob_command', `glob or brace characters in ${this.name}'s options (${quote(a.value)}) can change which program runs`);
    }
  }

  /** Scans options; on a problem flags `unsupported` and returns undefined. */
  options(args: readonly Arg[], spec: OptionSpec, expand?: Parameters<typeof scanOptions>[2]): ScannedOptions | undefined {
    const scanned = scanOptions(args, spec, expand);
    this.prefix(scanned.args.slice(0, scanned.operand));
    if (scanned.problem !== undefined) {
      this.sink.flag('unsupported', `${this.name}: ${oneLine(scanned.problem)}, so what it runs is not known`);
      return undefined;
    }
    return scanned;
  }

  /** `NAME=value` words (env, sudo): checked for risky variables; returns the index after them. */
  assignments(args: readonly Arg[], from: number, pattern: RegExp): number {
    let i = from;
    while (i < args.length && pattern.test(args[i]!.value)) {
      this.prefix([args[i]!]);
      this.environment(args[i]!.value.slice(0, args[i]!.value.indexOf('=')));
      i += 1;
    }
    return i;
  }

  environment(name: string): void {
    const risk = environmentRisk(name);
    if (risk) this.sink.flag(risk.flag, risk.note);
  }

  stdin(why: string): void {
    if (this.inv.appendsInput !== undefined) this.sink.flag('variable_command', `what ${this.name} runs comes from ${this.inv.appendsInput}'s input`);
    else this.sink.flag('stdin_script', why);
  }
}

/** Builtins that evaluate array subscripts in their arguments as arithmetic, running `$( … )` inside them. */
const ARITHMETIC_EVALUATORS = new Set([
  'let', 'declare', 'typeset', 'local', 'export', 'readonly', 'test', '[', '[[', 'printf', 'read', 'unset', 'mapfile', 'readarray', 'wait',
]);
