/**
 * The parsed form of a command line: only what the inspector needs — which commands run,
 * their words and redirections, and every script nested inside words (`$( … )`, `` `…` ``,
 * `<( … )`, here-document bodies). And/or lists, pipelines and backgrounding are flattened
 * away: a command that may run is reported whatever decides whether it does.
 */

export type WordPart =
  /** Text after quote removal; `quoted` when it came from quotes or a backslash (so no globbing). */
  | { readonly kind: 'literal'; readonly text: string; readonly quoted: boolean }
  | {
      readonly kind: 'expansion';
      readonly type: 'parameter' | 'command' | 'arithmetic' | 'process';
      /** As written, e.g. `$HOME`, `${X:-y}`, `$(rm x)`. */
      readonly text: string;
      /** Inside double quotes: expands to exactly one word. */
      readonly quoted: boolean;
      /** Commands that run while expanding it. */
      readonly scripts: readonly Script[];
    };

export interface Word {
  readonly parts: readonly WordPart[];
  /** Offset of the word in the top-level line. */
  readonly start: number;
}

export interface HereDocument {
  readonly delimiter: string;
  /** A quoted delimiter keeps the body literal; otherwise it is expanded like a double-quoted string. */
  readonly quoted: boolean;
  readonly stripTabs: boolean;
  /** Filled in when the body is read, at the next newline. */
  scripts: Script[];
}

export interface Redirect {
  readonly op: string;
  readonly fd: number | undefined;
  readonly target: Word;
  readonly hereDocument: HereDocument | undefined;
}

export interface Assignment {
  readonly name: string;
  /** One word for `A=b`, the elements for `A=(b c)`. */
  readonly values: readonly Word[];
}

export interface SimpleCommand {
  readonly kind: 'simple';
  readonly assignments: readonly Assignment[];
  readonly words: readonly Word[];
  readonly redirects: readonly Redirect[];
}

export interface CompoundCommand {
  readonly kind: 'compound';
  /** `{`, `(`, `if`, `while`, `until`, `for`, `select`, `case`, `((`, `coproc`, `time`. */
  readonly keyword: string;
  readonly body: Script;
  /** Words the compound itself expands (`for` lists, `case` subjects and patterns). */
  readonly words: readonly Word[];
  /** Scripts nested in arithmetic the compound evaluates. */
  readonly scripts: readonly Script[];
  readonly redirects: readonly Redirect[];
  /** Set for `time`: reported as a program wrapping the body. */
  readonly wrapper: string | undefined;
  /** Set when the construct is not modelled faithfully: why. */
  readonly unsupported: string | undefined;
}

export interface FunctionDefinition {
  readonly kind: 'function';
  readonly name: string;
  readonly body: Node;
}

export type Node = SimpleCommand | CompoundCommand | FunctionDefinition;

export type Script = readonly Node[];
