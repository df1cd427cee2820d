/** Failures of the shell parser. Neither ever escapes `inspectShell`: both become results. */

/** The command line is not valid shell syntax; the shell would refuse it too. */
export class ShellSyntaxError extends Error {
  override readonly name = 'ShellSyntaxError';
  constructor(
    message: string,
    /** 0-based offset in the inspected line, when known. */
    readonly position: number | undefined,
  ) {
    super(message);
  }
}

/** The command line nests deeper than the inspector is willing to follow. */
export class ShellLimitError extends Error {
  override readonly name = 'ShellLimitError';
}

/** Maximum nesting of compounds, substitutions, wrappers and re-parsed scripts, together. */
export const MAX_DEPTH = 64;

/**
 * One nesting budget shared by the parser and the inspector, so that `sh -c "sh -c …"`,
 * `$( $( … ) )` and wrapper chains all count against the same limit (and the JS stack).
 */
export class DepthBudget {
  private level = 0;

  enter(): void {
    this.level += 1;
    if (this.level > MAX_DEPTH) throw new ShellLimitError(`nesting deeper than ${MAX_DEPTH} levels`);
  }

  exit(): void {
    this.level -= 1;
  }

  /** Runs `work` one level deeper. */
  within<T>(work: () => T): T {
    this.enter();
    try {
      return work();
    } finally {
      this.exit();
    }
  }
}
