/**
 * What the shell-command inspector finds in a command line: the programs it would run, with
 * their arguments and redirections, after quote removal and through wrappers (`sudo`, `env`,
 * `xargs`, `sh -c '…'` …). The gate matches rules against these facts (src/policy).
 */

/** A redirection as written, its target after quote removal. */
export interface ShellRedirection {
  /** `>`, `>>`, `>|`, `&>`, `&>>`, `<`, `<>`, `<<`, `<<-`, `<<<`, `>&`, `<&`. */
  readonly op: string;
  /** The file descriptor written before the operator (`2>`), when one is. */
  readonly fd?: number;
  /** The target word after quote removal (a here-document's delimiter for `<<`). */
  readonly target: string;
  /** True when the redirection can write to its target (`>`, `>>`, `>|`, `&>`, `&>>`, `<>`, and `>&` to a file). */
  readonly writes: boolean;
}

/** One program the command line would run. */
export interface ShellCommand {
  /** The program's name: the last path component of `path` (`/bin/rm` → `rm`). */
  readonly program: string;
  /** The command word after quote removal, as written (`/bin/rm`, `rm`, `./run.sh`). */
  readonly path: string;
  /** Arguments after quote removal, without the command word. */
  readonly args: readonly string[];
  readonly redirections: readonly ShellRedirection[];
  /**
   * The wrappers that run it, outermost first (`sudo -u x env A=1 rm` → `['sudo', 'env']`;
   * a command found inside `sh -c '…'` has `sh` here). Each wrapper is also reported as a
   * command of its own.
   */
  readonly wrappers: readonly string[];
}

/**
 * Why a command line cannot be known with confidence. Any of these sends it to review or
 * deny, never allow:
 * - `eval`: `eval`, `source`/`.`, `exec` of a computed string, `alias`…
 * - `variable_command`: a command word made from an expansion (`$CMD`, `${X}rm`, `$(echo rm)`, `` `x` ``).
 * - `glob_command`: a command word with glob or brace characters (`/bin/r?`, `r{m,}`).
 * - `stdin_script`: a shell or interpreter reading its program from stdin or a here-document (`curl … | sh`, `bash <<EOF`).
 * - `unsupported`: syntax the inspector does not model (it says which in `notes`).
 */
export type ShellFlag = 'eval' | 'variable_command' | 'glob_command' | 'stdin_script' | 'unsupported';

export type ShellInspection =
  | {
      readonly ok: true;
      /** Every program, in the order they appear (wrappers before what they wrap). */
      readonly commands: readonly ShellCommand[];
      /** Distinct flags, in the order first found. */
      readonly flags: readonly ShellFlag[];
      /** Short human explanations of each flag (for refusal reasons), e.g. `"$CMD" is a variable used as a command name`. */
      readonly notes: readonly string[];
    }
  | {
      readonly ok: false;
      /** What is wrong, e.g. `unterminated single quote`. */
      readonly error: string;
      /** 0-based character offset, when known. */
      readonly position?: number;
    };
